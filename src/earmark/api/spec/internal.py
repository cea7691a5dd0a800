"""The `/v2/internal/*` endpoints described as data: the cluster's control plane, each behind
the cluster secret (part of :data:`earmark.api.spec.endpoints.ENDPOINTS`)."""

from __future__ import annotations

from earmark.api.spec.terms import SECRET, Endpoint, Param


def _internal(
    name: str,
    summary: str,
    params: tuple[Param, ...],
    response: str,
    more_errors: tuple[int, ...] = (),
    description: str = "",
) -> Endpoint:
    return Endpoint(
        path=f"/v2/internal/{name}",
        name=f"internal_{name}",
        summary=summary,
        description=(
            "Cluster control plane: requires `secret` (else 12, checked after the other "
            "parameters: a missing or bad one is 2). " + description
        ).strip(),
        tag="internal",
        auth="secret",
        params=(SECRET, *params),
        response=response,
        errors=(2, 12, 14, *more_errors),
    )


def _int(name: str, description: str, required: bool = True) -> Param:
    return Param(name, "integer", description, required=required)


INTERNAL = (
    _internal(
        "update_lookup_stats",
        "Add lookup counts of one application and hour",
        (
            _int("application_id", "Application id."),
            Param("date", "date", "Day, `YYYY-MM-DD`.", required=True, example="2026-11-21"),
            _int("hour", "Hour of the day, 0-23."),
            Param("type", "string", "`hit` counts hits; anything else misses.", required=True),
            _int("count", "Number of lookups to add."),
        ),
        "EmptyResponse",
        (17,),
        "Unknown application → 17.",
    ),
    _internal(
        "update_user_agent_stats",
        "Add request counts of one application, user agent and IP",
        (
            _int("application_id", "Application id."),
            Param("date", "date", "Day, `YYYY-MM-DD`.", required=True, example="2026-11-21"),
            Param("user_agent", "string", "User-Agent header.", required=True),
            Param("ip", "string", "Client IP address.", required=True),
            _int("count", "Number of requests to add."),
        ),
        "EmptyResponse",
        (17,),
        "Unknown application → 17.",
    ),
    _internal(
        "lookup_stats",
        "Lookups per day of applications",
        (
            Param(
                "client",
                "string",
                "Client key; repeat for several. None given or none valid → 4.",
                repeatable=True,
            ),
            Param("from", "date", "First day, `YYYY-MM-DD`."),
            Param("to", "date", "Last day, `YYYY-MM-DD` (default: yesterday)."),
            _int("days", "Number of days when `from` is absent (default 30).", required=False),
        ),
        "LookupStatsResponse",
        (4,),
        "Sums per date; today is left out unless `to` is given.",
    ),
    _internal("create_account", "Create an account", (), "CreatedResponse"),
    _internal(
        "create_application",
        "Create an application of an account",
        (
            _int("account_id", "Owner account id (unknown → 2)."),
            Param("name", "string", "Application name.", required=True),
            Param("version", "string", "Application version.", required=True),
        ),
        "CreatedResponse",
    ),
    _internal(
        "update_application_status",
        "Activate or deactivate an application",
        (
            _int("account_id", "Owner account id."),
            _int("application_id", "Application id."),
            Param(
                "active",
                "string",
                "`1`/`true`/`yes` activates, `0`/`false`/`no` deactivates; anything else → 2.",
                required=True,
            ),
        ),
        "ApplicationStatusResponse",
        (17,),
        "Unknown application of that account → 17.",
    ),
    _internal(
        "check_application",
        "Resolve a client key to its application id",
        (
            Param(
                "api_key", "string", "Client key (of an active application, else 4).", required=True
            ),
        ),
        "ApplicationIdResponse",
        (4,),
    ),
)
