"""The bounded insight families: load per ACL user and client name, ACL denials; their options."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.support.recorded import ADDR, NOW, SERVERS, Translated, load
from textfile_redis import budget, catalog
from textfile_redis.commands import ServerFeatures, cycle_commands
from textfile_redis.config import ConfigError, Options, Overrides, Target, load_config
from textfile_redis.translate import Extras, Outcome
from textfile_redis.translate.insight import MAX_LABEL_CHARS, top_with_other

if TYPE_CHECKING:
    from pathlib import Path

LOAD = Extras(export_client_list=False, export_client_load=True, insight_top_n=3)
USER_FAMILIES = (
    "redis_connected_clients_by_user",
    "redis_client_commands_processed_by_user",
    "redis_client_net_input_bytes_by_user",
    "redis_client_net_output_bytes_by_user",
)
NAME_FAMILIES = tuple(name.replace("_by_user", "_by_name") for name in USER_FAMILIES)


def _client(n: int, user: str, name: str = "", **fields: int) -> str:
    """A CLIENT LIST line as Redis 8 writes it, with these fields (tot-cmds as tot_cmds)."""
    extra = " ".join(f"{key.replace('_', '-')}={value}" for key, value in fields.items())
    return f"id={n} addr=127.0.0.1:{40000 + n} fd=8 name={name} age=1 idle=0 user={user} {extra}"


def _load(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def _translated(
    extras: Extras = LOAD, refused: dict[str, str] | None = None, **replies: Any
) -> Translated:
    outcome = Outcome(
        addr=ADDR, replies={"info": "", **replies}, refused=refused or {}, now=NOW, extras=extras
    )
    return Translated(outcome, {"addr": ADDR})


def _acl(count: object, reason: object, user: str) -> list[object]:
    """An ACL LOG entry as Redis 8 sends it over RESP2."""
    return ["count", count, "reason", reason, "context", "toplevel", "object", "get",
            "username", user, "age-seconds", "0.5", "client-info", "id=3 addr=x"]  # fmt: skip


KNOWN_LOAD = _load(
    _client(1, "alice", "api", tot_cmds=5, tot_net_in=100, tot_net_out=10),
    _client(2, "alice", "api", tot_cmds=6, tot_net_in=200, tot_net_out=20),
    _client(3, "alice", "cron", tot_cmds=7, tot_net_in=300, tot_net_out=30),
    _client(4, "bob", "", tot_cmds=1, tot_net_in=14, tot_net_out=7),
)


def test_load_is_summed_per_user_and_per_name() -> None:
    """Connections, tot-cmds, tot-net-in and tot-net-out are summed per user and per name."""
    found = _translated(client_list=KNOWN_LOAD)
    assert found.value("redis_connected_clients_by_user", user="alice") == 3
    assert found.value("redis_client_commands_processed_by_user", user="alice") == 18
    assert found.value("redis_client_net_input_bytes_by_user", user="alice") == 600
    assert found.value("redis_client_net_output_bytes_by_user", user="bob") == 7
    assert found.value("redis_connected_clients_by_name", name="api") == 2
    assert found.value("redis_client_commands_processed_by_name", name="cron") == 7
    assert found.value("redis_client_net_input_bytes_by_name", name="") == 14
    assert found.value("redis_connected_clients_by_user", user="other") == 0
    assert found.malformed == ()


def test_only_the_load_is_written_without_export_client_list() -> None:
    """CLIENT LIST asked for the load alone writes no per-client series."""
    found = _translated(client_list=KNOWN_LOAD)
    assert found.samples("redis_connected_client_info") == []
    both = _translated(Extras(export_client_load=True), client_list=KNOWN_LOAD)
    assert len(both.samples("redis_connected_client_info")) == 4
    assert both.value("redis_connected_clients_by_user", user="bob") == 1


def test_no_load_without_export_client_load() -> None:
    """export_client_list alone writes the per-client families and no load family."""
    found = _translated(Extras(), client_list=KNOWN_LOAD)
    assert found.samples("redis_connected_clients_by_user") == []
    assert len(found.samples("redis_connected_client_info")) == 4


def test_a_server_without_the_counters_gets_connections_only() -> None:
    """Redis 7.0's CLIENT LIST lacks tot-cmds and tot-net-*: only the connection families."""
    found = _translated(client_list=_load(_client(1, "alice", "api"), _client(2, "bob", "api")))
    assert found.value("redis_connected_clients_by_user", user="alice") == 1
    assert found.value("redis_connected_clients_by_name", name="api") == 2
    written = {family.name for family in found.families}
    assert not written & {*USER_FAMILIES[1:], *NAME_FAMILIES[1:]}


def test_a_server_without_users_gets_the_load_by_name_only() -> None:
    """Redis 5 writes no user= field: the by-user families are left out, not filled with ''."""
    lines = _load("id=1 addr=127.0.0.1:1 fd=8 name=api age=1", "id=2 addr=127.0.0.1:2 name=api")
    found = _translated(client_list=lines)
    assert found.value("redis_connected_clients_by_name", name="api") == 2
    assert found.samples("redis_connected_clients_by_user") == []


@pytest.mark.parametrize("server", SERVERS)
def test_recorded_client_lists_add_up(server: str) -> None:
    """On every recording the connections per user and per name add up to the clients listed."""
    reply = load(f"{server}-opt-ins")["replies"]["client_list"]
    found = _translated(Extras(export_client_load=True, insight_top_n=1), client_list=reply)
    clients = len(reply.splitlines())
    by_user = found.samples("redis_connected_clients_by_user")
    assert len(by_user) == 2  # the top one and `other`
    total = sum(found.value("redis_connected_clients_by_user", **s) or 0 for s in by_user)
    assert total == clients
    counted = bool(found.samples("redis_client_commands_processed_by_user"))
    assert counted is (server not in {"redis-6.2", "redis-7.0"})


def test_at_the_cap_the_top_n_stay_and_the_rest_is_other() -> None:
    """Five users under a cap of 3: the three with most connections, ties by name, then other."""
    counts = {"u1": 1, "u2": 4, "u3": 2, "u4": 2, "u5": 2}
    lines = [
        _client(n * 10 + i, user, tot_cmds=i + 1, tot_net_in=1, tot_net_out=1)
        for n, (user, many) in enumerate(counts.items())
        for i in range(many)
    ]
    first = _translated(client_list=_load(*lines))
    by_user = {
        s["user"]: first.value(USER_FAMILIES[0], **s) for s in first.samples(USER_FAMILIES[0])
    }
    assert by_user == {"u2": 4, "u3": 2, "u4": 2, "other": 3}
    other_commands = 1 + (1 + 2)  # u1's one client, u5's two
    assert first.value("redis_client_commands_processed_by_user", user="other") == other_commands
    again = _translated(client_list=_load(*reversed(lines)))
    assert [f.lines for f in again.families] == [f.lines for f in first.families]


def test_a_group_named_other_or_too_long_is_counted_as_other() -> None:
    """A user named `other` and an over-long name never make a second `other` nor a huge label."""
    long_name = "n" * (MAX_LABEL_CHARS + 1)
    lines = _load(_client(1, "other", long_name), _client(2, "other", "ok"), _client(3, "a", "ok"))
    found = _translated(client_list=lines)
    assert found.samples("redis_connected_clients_by_user") == [
        {"addr": ADDR, "user": "a"},
        {"addr": ADDR, "user": "other"},
    ]
    assert found.value("redis_connected_clients_by_user", user="other") == 2
    assert found.value("redis_connected_clients_by_name", name="other") == 1
    assert found.value("redis_connected_clients_by_name", name="ok") == 2


def test_top_with_other_keeps_n_and_sums_the_rest_whatever_the_order() -> None:
    """The ranking is by the first value, then by key; `other` is last and always there."""
    groups: dict[tuple[str, ...], list[float]] = {
        ("b",): [2.0, 5.0],
        ("a",): [2.0, 1.0],
        ("c",): [1.0, 7.0],
        ("other",): [1.0, 1.0],
    }
    assert top_with_other(groups, 2, ("other",), 2) == [
        (("a",), [2.0, 1.0]),
        (("b",), [2.0, 5.0]),
        (("other",), [2.0, 8.0]),
    ]
    assert top_with_other({}, 2, ("other", "other"), 1) == [(("other", "other"), [0.0])]


@pytest.mark.parametrize(
    "reply",
    [
        42,
        "id=1 addr=x user=a name= tot-cmds=many\n",
        "id=1 addr=x user=a name= tot-cmds=-1\n",
        "id=1 addr=x user=a name= tot-cmds=1e3\n",
        "id=1 addr=x user=a name= tot-cmds=" + "9" * 400 + "\n",
        "id=1 addr=x user=a name= tot-cmds=1\nid=2 addr=x user=a name=\n",
        "id=1 addr=x user=a name= user=b\n",
    ],
    ids=["not-text", "word", "negative", "float", "past-float", "some-lines", "twice"],
)
def test_a_malformed_client_list_costs_the_load_families_only(reply: object) -> None:
    """A count that is no whole number drops the load families; the file keeps the rest."""
    found = _translated(client_list=reply, slowlog_len=3)
    assert found.samples("redis_connected_clients_by_user") == []
    assert found.malformed == ("client_list",)
    assert found.value("redis_slowlog_length") == 3


ACL_LOG = [
    _acl(3, "command", "alice"),
    _acl(2, "key", "alice"),
    _acl(1, "command", "alice"),  # another object: an entry of its own
    _acl(5, "auth", "mallory"),
    _acl(1, "auth", "hunter2"),  # a password typed as the user name
    _acl(1, "auth", "bob"),
    _acl(1, "channel", "bob"),
]
USERS = ["default", "alice", "bob"]  # ACL USERS


def test_acl_denials_are_summed_per_reason_and_user() -> None:
    """Each (reason, user) pair sums its entries' count; the entries are counted."""
    found = _translated(Extras(insight_top_n=10), acl_log=ACL_LOG, acl_users=USERS)
    assert found.value("redis_acl_log_entries") == 7
    assert found.value("redis_acl_log_denials", reason="command", user="alice") == 4
    assert found.value("redis_acl_log_denials", reason="auth", user="bob") == 1
    assert found.value("redis_acl_log_denials", reason="channel", user="bob") == 1
    assert found.value("redis_acl_log_denials", reason="other", user="other") == 0


def test_a_failed_auth_names_only_a_user_that_exists() -> None:
    """AUTH with a name ACL USERS does not list counts as `unknown`: it may be a password."""
    found = _translated(Extras(insight_top_n=10), acl_log=ACL_LOG, acl_users=USERS)
    assert found.value("redis_acl_log_denials", reason="auth", user="unknown") == 5 + 1
    assert "hunter2" not in "".join(family.text() for family in found.families)
    refused = _translated(acl_log=ACL_LOG, refused={"acl_users": "NOPERM"})
    auth = {s["user"] for s in refused.samples("redis_acl_log_denials") if s["reason"] == "auth"}
    assert auth == {"unknown"}


def test_acl_denials_at_the_cap_keep_the_top_pairs() -> None:
    """Under a cap of 2: the two pairs with most denials, then the rest summed as other."""
    found = _translated(Extras(insight_top_n=2), acl_log=ACL_LOG, acl_users=USERS)
    assert found.samples("redis_acl_log_denials") == [
        {"addr": ADDR, "reason": "auth", "user": "unknown"},
        {"addr": ADDR, "reason": "command", "user": "alice"},
        {"addr": ADDR, "reason": "other", "user": "other"},
    ]
    assert found.value("redis_acl_log_denials", reason="other", user="other") == 2 + 1 + 1


def test_an_empty_acl_log_writes_zeros() -> None:
    """An empty log has 0 entries and other 0: the families exist from the start."""
    found = _translated(acl_log=[])
    assert found.value("redis_acl_log_entries") == 0
    assert found.value("redis_acl_log_denials", reason="other", user="other") == 0


@pytest.mark.parametrize(
    "reply",
    [
        "OK",
        [["count", 1, "reason", "auth"]],
        [["count", 1, "reason", "auth", "username"]],
        [_acl("1", "auth", "a")[:-1]],
        [_acl("many", "auth", "a")],
        [_acl(1, ["auth"], "a")],
        [_acl(count=True, reason="auth", user="a")],
        [_acl(1.5, "auth", "a")],
        [_acl(1, "auth", "a")] * 1025,
        [["count", 1] * 40],
    ],
    ids=["text", "no-user", "odd", "odd-2", "word", "list", "bool", "float", "long", "wide"],
)
def test_a_malformed_acl_log_costs_its_families_only(reply: object) -> None:
    """An ACL LOG of another shape loses both ACL families and nothing else."""
    found = _translated(acl_log=reply, slowlog_len=3)
    assert found.samples("redis_acl_log_entries") == []
    assert found.samples("redis_acl_log_denials") == []
    assert found.malformed == ("acl_log",)
    assert found.value("redis_slowlog_length") == 3


def test_a_refused_acl_log_is_said_and_costs_its_families_only() -> None:
    """NOPERM on ACL LOG: no ACL family, textfile_redis_command_refused{command="acl_log"}."""
    refused = {"acl_log": "NOPERM this user has no permissions to run the 'acl|log' command"}
    found = _translated(refused=refused, client_list=KNOWN_LOAD)
    assert found.samples("redis_acl_log_entries") == []
    assert found.value("textfile_redis_command_refused", command="acl_log") == 1
    assert found.value("redis_connected_clients_by_user", user="bob") == 1


INFO_6 = "# Server\r\nredis_version:6.2.14\r\n"
INFO_5 = "# Server\r\nredis_version:5.0.7\r\n"


def _commands(info: str, **options: object) -> dict[str, tuple[str | int, ...]]:
    target = Target("t", "redis://h:6379", 1.0, options=Options(**options))  # type: ignore[arg-type]
    return cycle_commands(target, ServerFeatures.from_info(info))


def test_acl_log_is_asked_for_when_on_and_the_server_has_acls() -> None:
    """ACL LOG 128 and ACL USERS with export_acl_log from Redis 6 on; not to Redis 5, nor off."""
    assert _commands(INFO_6, export_acl_log=True)["acl_log"] == ("ACL", "LOG", 128)
    assert _commands(INFO_6, export_acl_log=True)["acl_users"] == ("ACL", "USERS")
    assert "acl_log" not in _commands(INFO_5, export_acl_log=True)
    assert "acl_log" not in _commands(INFO_6)


def test_client_list_is_asked_for_by_either_option_once() -> None:
    """export_client_load alone asks for CLIENT LIST; with export_client_list it is one command."""
    assert _commands(INFO_6, export_client_load=True)["client_list"] == ("CLIENT", "LIST")
    both = _commands(INFO_6, export_client_load=True, export_client_list=True)
    assert [c for c in both.values() if c == ("CLIENT", "LIST")] == [("CLIENT", "LIST")]
    sentinel = "# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\n"
    assert "client_list" in _commands(sentinel, export_client_load=True)
    assert "client_list" not in _commands(INFO_6)


def test_the_insight_families_are_cut_after_settings_before_system_memory() -> None:
    """In the budget's order they come late: capped at N + 1 series, they cost little."""
    options = [option for option, _ in budget.DROP_ORDER]
    load_step = options.index(catalog.CLIENT_LOAD_OPTION)
    assert options.index(catalog.CONFIG_OPTION) < load_step < options.index(catalog.ACL_LOG_OPTION)
    assert options.index(catalog.ACL_LOG_OPTION) < options.index("include_system_metrics")


def _config(tmp_path: Path, text: str) -> Options:
    path = tmp_path / "config.toml"
    path.write_text(f'textfile_dir = "{tmp_path}"\n{text}\n[[target]]\naddr = "127.0.0.1:6379"\n')
    config = load_config(Overrides(config_path=path), {})
    return config.targets[0].options


def test_options_default_off_with_a_cap_of_ten(tmp_path: Path) -> None:
    """Both insight options are off by default and insight_top_n is 10."""
    options = _config(tmp_path, "")
    assert (options.export_client_load, options.export_acl_log, options.insight_top_n) == (
        False,
        False,
        10,
    )
    on = _config(tmp_path, "export_client_load = true\nexport_acl_log = true\ninsight_top_n = 100")
    assert (on.export_client_load, on.export_acl_log, on.insight_top_n) == (True, True, 100)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("insight_top_n = 0", "insight_top_n: expected a whole number greater than 0, got 0"),
        ("insight_top_n = 101", "insight_top_n: must be at most 100, got 101"),
        ("insight_top_n = true", "insight_top_n: expected a whole number greater than 0, got true"),
        ('export_acl_log = "yes"', "export_acl_log: expected true or false, got 'yes'"),
        ("export_client_load = 1", "export_client_load: expected true or false, got 1"),
    ],
)
def test_bad_insight_options_are_refused_naming_file_and_key(
    tmp_path: Path, line: str, problem: str
) -> None:
    """A cap out of 1..100 or a switch that is no boolean is refused, naming the file and key."""
    with pytest.raises(ConfigError) as refused:
        _config(tmp_path, line)
    assert str(refused.value) == f"{tmp_path / 'config.toml'}: {problem}"
