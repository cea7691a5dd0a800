/*
 * Earmark: a Chromaprint fingerprint drawn on a canvas, and two of them compared.
 *
 * Plain ES2017, no library, nothing inline: the page holds the data in a JSON block (not
 * executed, so the Content-Security-Policy allows it) and an element that points at it:
 *
 *   <div class="fingerprint-view" data-fingerprint-source="fp-data"></div>
 *   <script type="application/json" id="fp-data">{"items": [...], "label": "Fingerprint 12"}</script>
 *
 * (or the JSON itself in a data-fingerprint-json attribute). One fingerprint is drawn with one
 * column per item and one row per bit (32 rows, the most significant bit on top): 1 bits dark,
 * 0 bits light. Data of the form {"a": {...}, "b": {...}, "score": 0.87, "maxOffset": 80} is
 * a comparison: A, then B shifted by the offset, then A XOR B (differing bits dark), with a
 * slider that moves B and shows the share of equal bits at that offset next to the score the
 * matcher (compare2) gave. Offset k lines item i of A up with item i + k of B.
 *
 * Items are 32-bit integers, signed or unsigned (only the bit pattern matters). The pure
 * functions are exported as globalThis.EarmarkFingerprint for tests.
 */
(function () {
  "use strict";

  var MAX_ITEMS = 100000; // about 3.4 hours of audio: more is not a fingerprint
  var ITEM_SECONDS = 4096 / 3 / 11025; // a Chromaprint item: 1/3 of a 4096-sample frame
  var DEFAULT_MAX_OFFSET = 80; // the matcher's own limit (compare2 maxoffset)
  var CELL_HEIGHT = 3;
  var GAP = 8;
  var COLOURS = {
    one: [26, 26, 26],
    zero: [232, 232, 232],
    none: [255, 255, 255],
    differ: [176, 0, 32],
  };

  /** The number of 1 bits of a 32-bit value. */
  function popcount32(value) {
    var x = value >>> 0;
    x = x - ((x >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    x = (x + (x >>> 4)) & 0x0f0f0f0f;
    return Math.imul(x, 0x01010101) >>> 24;
  }

  /** A fingerprint's items as a Uint32Array; throws on anything else. */
  function toItems(value) {
    if (!Array.isArray(value)) {
      throw new Error("the items are not a list");
    }
    if (value.length > MAX_ITEMS) {
      throw new Error("too many items (" + value.length + ", at most " + MAX_ITEMS + ")");
    }
    var items = new Uint32Array(value.length);
    for (var i = 0; i < value.length; i++) {
      var item = value[i];
      if (!Number.isInteger(item) || item < -2147483648 || item > 4294967295) {
        throw new Error("item " + i + " is not a 32-bit integer");
      }
      items[i] = item >>> 0;
    }
    return items;
  }

  /** The positions i of A that have a partner i + offset in B: {start, end} (end excluded). */
  function overlapRange(lengthA, lengthB, offset) {
    var start = Math.max(0, -offset);
    var end = Math.min(lengthA, lengthB - offset);
    return { start: start, end: Math.max(start, end) };
  }

  /** A XOR B over the overlap at ``offset``: entry k is A[start + k] ^ B[start + k + offset]. */
  function xorAt(a, b, offset) {
    var range = overlapRange(a.length, b.length, offset);
    var out = new Uint32Array(range.end - range.start);
    for (var i = range.start; i < range.end; i++) {
      out[i - range.start] = (a[i] ^ b[i + offset]) >>> 0;
    }
    return out;
  }

  /**
   * The share of equal bits of A and B at ``offset``, over the items both have there:
   * {agreement: 0..1 (null without overlap), overlap: items, differing: bits}.
   */
  function bitAgreement(a, b, offset) {
    var range = overlapRange(a.length, b.length, offset);
    var differing = 0;
    for (var i = range.start; i < range.end; i++) {
      differing += popcount32(a[i] ^ b[i + offset]);
    }
    var overlap = range.end - range.start;
    return {
      agreement: overlap ? 1 - differing / (32 * overlap) : null,
      overlap: overlap,
      differing: differing,
    };
  }

  function fingerprintOf(value, name) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new Error(name + " is not an object");
    }
    var label = typeof value.label === "string" ? value.label : name;
    return { items: toItems(value.items), label: label };
  }

  /**
   * The drawing's data from its JSON text: {mode: "single", a} or
   * {mode: "compare", a, b, score (number or null), maxOffset}. Throws on anything else.
   */
  function parseData(text) {
    var data = JSON.parse(text);
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new Error("the data is not an object");
    }
    if (!("a" in data) && !("b" in data)) {
      return { mode: "single", a: fingerprintOf(data, "fingerprint") };
    }
    var a = fingerprintOf(data.a, "A");
    var b = fingerprintOf(data.b, "B");
    var score = typeof data.score === "number" && isFinite(data.score) ? data.score : null;
    var limit = Math.max(a.items.length, b.items.length, 1) - 1;
    var maxOffset = DEFAULT_MAX_OFFSET;
    if (Number.isInteger(data.maxOffset) && data.maxOffset >= 0) {
      maxOffset = data.maxOffset;
    }
    return { mode: "compare", a: a, b: b, score: score, maxOffset: Math.min(maxOffset, limit) };
  }

  function formatPercent(fraction) {
    return (fraction * 100).toFixed(1) + " %";
  }

  function formatOffset(offset) {
    var seconds = (offset * ITEM_SECONDS).toFixed(2);
    var sign = offset > 0 ? "+" : "";
    return sign + offset + " items (" + sign + seconds + " s)";
  }

  /** Paints the cells of one strip: ``valueAt(column)`` gives an item or null (no item). */
  function paintStrip(image, top, columns, cellWidth, valueAt, oneColour) {
    var data = image.data;
    for (var column = 0; column < columns; column++) {
      var value = valueAt(column);
      for (var bit = 0; bit < 32; bit++) {
        var colour = COLOURS.none;
        if (value !== null) {
          colour = (value >>> (31 - bit)) & 1 ? oneColour : COLOURS.zero;
        }
        for (var dy = 0; dy < CELL_HEIGHT; dy++) {
          var row = top + bit * CELL_HEIGHT + dy;
          for (var dx = 0; dx < cellWidth; dx++) {
            var p = (row * image.width + column * cellWidth + dx) * 4;
            data[p] = colour[0];
            data[p + 1] = colour[1];
            data[p + 2] = colour[2];
            data[p + 3] = 255;
          }
        }
      }
    }
  }

  function cellWidthFor(columns) {
    return Math.max(1, Math.min(4, Math.floor(1200 / Math.max(columns, 1))));
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function canvasIn(container) {
    var canvas = container.querySelector("canvas");
    if (!canvas) {
      canvas = element("canvas", "fingerprint-canvas");
      container.appendChild(canvas);
    }
    canvas.setAttribute("role", "img");
    return canvas;
  }

  function drawSingle(container, data) {
    var items = data.a.items;
    var cellWidth = cellWidthFor(items.length);
    var canvas = canvasIn(container);
    canvas.width = Math.max(items.length * cellWidth, 1);
    canvas.height = 32 * CELL_HEIGHT;
    canvas.setAttribute(
      "aria-label",
      data.a.label + ": " + items.length + " items, one column per item, one row per bit"
    );
    var context = canvas.getContext("2d");
    var image = context.createImageData(canvas.width, canvas.height);
    paintStrip(image, 0, items.length, cellWidth, function (i) {
      return items[i];
    }, COLOURS.one);
    context.putImageData(image, 0, 0);
  }

  function drawCompare(container, data) {
    var a = data.a.items;
    var b = data.b.items;
    var maxOffset = data.maxOffset;
    // Columns fixed for every offset: A stays put, B slides by up to maxOffset either way.
    var first = -maxOffset;
    var columns = Math.max(a.length, b.length + maxOffset) - first;
    var cellWidth = cellWidthFor(columns);
    var strip = 32 * CELL_HEIGHT;
    var canvas = canvasIn(container);
    canvas.width = Math.max(columns * cellWidth, 1);
    canvas.height = 3 * strip + 2 * GAP;
    canvas.setAttribute(
      "aria-label",
      "Top: " + data.a.label + "; middle: " + data.b.label + " shifted by the offset; " +
        "bottom: their XOR (differing bits dark)"
    );

    var legend = element("p", "fingerprint-legend",
      "Top: " + data.a.label + " · middle: " + data.b.label + " at the offset · " +
        "bottom: A XOR B (differing bits dark)");
    var label = element("label", "fingerprint-offset", "Offset ");
    var slider = element("input");
    slider.type = "range";
    slider.min = String(-maxOffset);
    slider.max = String(maxOffset);
    slider.step = "1";
    slider.value = "0";
    slider.setAttribute("aria-label", "Offset of B against A, in items");
    var offsetText = element("output", "fingerprint-offset-value");
    label.appendChild(slider);
    label.appendChild(offsetText);
    var agreementText = element("p", "fingerprint-agreement");
    agreementText.setAttribute("aria-live", "polite");
    var scoreText = element(
      "p",
      "fingerprint-score",
      data.score === null
        ? "Matcher score (compare2): not given"
        : "Matcher score (compare2, at its best offset): " + data.score.toFixed(3)
    );
    container.insertBefore(legend, canvas);
    var controls = element("p", "fingerprint-controls");
    controls.appendChild(label);
    container.appendChild(controls);
    container.appendChild(agreementText);
    container.appendChild(scoreText);

    var context = canvas.getContext("2d");
    function redraw() {
      var offset = parseInt(slider.value, 10) || 0;
      var image = context.createImageData(canvas.width, canvas.height);
      paintStrip(image, 0, columns, cellWidth, function (column) {
        var i = column + first;
        return i >= 0 && i < a.length ? a[i] : null;
      }, COLOURS.one);
      paintStrip(image, strip + GAP, columns, cellWidth, function (column) {
        var j = column + first + offset; // B's item j sits under A's item j - offset
        return j >= 0 && j < b.length ? b[j] : null;
      }, COLOURS.one);
      paintStrip(image, 2 * (strip + GAP), columns, cellWidth, function (column) {
        var i = column + first;
        var j = i + offset;
        return i >= 0 && i < a.length && j >= 0 && j < b.length ? (a[i] ^ b[j]) >>> 0 : null;
      }, COLOURS.differ);
      context.putImageData(image, 0, 0);
      var result = bitAgreement(a, b, offset);
      offsetText.textContent = " " + formatOffset(offset);
      agreementText.textContent = result.agreement === null
        ? "Bit agreement at offset " + offset + ": no overlap"
        : "Bit agreement at offset " + offset + ": " + formatPercent(result.agreement) +
          " of " + result.overlap + " items overlapping";
      agreementText.setAttribute("data-agreement", String(result.agreement));
    }
    slider.addEventListener("input", redraw);
    redraw();
  }

  /** Draws one container's fingerprint (or comparison) from its data; a message on failure. */
  function render(container) {
    var text = container.getAttribute("data-fingerprint-json");
    var source = container.getAttribute("data-fingerprint-source");
    try {
      if (text === null) {
        var block = source ? document.getElementById(source) : null;
        if (!block) {
          throw new Error("no data block #" + source);
        }
        text = block.textContent;
      }
      var data = parseData(text);
      if (data.mode === "single") {
        drawSingle(container, data);
      } else {
        drawCompare(container, data);
      }
    } catch (error) {
      container.appendChild(
        element("p", "fingerprint-error", "This fingerprint cannot be drawn: " + error.message)
      );
    }
  }

  function renderAll(root) {
    var found = root.querySelectorAll("[data-fingerprint-source], [data-fingerprint-json]");
    for (var i = 0; i < found.length; i++) {
      render(found[i]);
    }
  }

  // globalThis is ES2020; window (browsers) or self (workers) before it.
  var scope =
    typeof globalThis !== "undefined" ? globalThis : typeof window !== "undefined" ? window : self;
  scope.EarmarkFingerprint = {
    popcount32: popcount32,
    toItems: toItems,
    overlapRange: overlapRange,
    xorAt: xorAt,
    bitAgreement: bitAgreement,
    parseData: parseData,
    formatOffset: formatOffset,
    render: render,
    renderAll: renderAll,
  };

  if (typeof document !== "undefined") {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () {
        renderAll(document);
      });
    } else {
      renderAll(document);
    }
  }
})();
