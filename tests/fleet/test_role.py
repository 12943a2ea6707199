"""The Ansible role without hosts: ansible-lint's production profile, and the unit it ships."""

from __future__ import annotations

import os
import subprocess

from tests.support.fleet.ansible import ANSIBLE_DIR, REPO
from tests.support.fleet.deploy import require_tools

ROLE = ANSIBLE_DIR / "roles" / "textfile_redis"


def test_ansible_lint_production_profile_passes() -> None:
    """ansible-lint --profile production finds nothing in the role, playbook and inventory."""
    require_tools(("ansible-lint",), root=False)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "NO_COLOR": "1"}
    done = subprocess.run(
        ["ansible-lint", "--profile", "production", "--nocolor"],
        cwd=ANSIBLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_role_ships_the_unit_from_systemd_not_a_copy() -> None:
    """The role's unit is a link to systemd/textfile-redis.service, so the two never diverge."""
    shipped = ROLE / "files" / "textfile-redis.service"
    assert shipped.is_symlink()
    assert shipped.resolve() == (REPO / "systemd" / "textfile-redis.service").resolve()


def test_role_knows_what_the_unit_says() -> None:
    """vars/main.yml's notes of the unit's path, user and textfile defaults match the unit."""
    unit = (REPO / "systemd" / "textfile-redis.service").read_text()
    role_vars = (ROLE / "vars" / "main.yml").read_text()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0].isalpha()
    )
    assert settings["ExecStart"].startswith(f"{_var(role_vars, 'venv_dir')}/bin/textfile-redis")
    assert settings["User"] == _var(role_vars, "system_user")
    assert settings["Group"] == _var(role_vars, "system_group")
    assert settings["ReadWritePaths"] == _var(role_vars, "unit_textfile_dir")
    assert settings["SupplementaryGroups"] == _var(role_vars, "unit_textfile_group")


def test_playbook_syntax_is_valid() -> None:
    """ansible-playbook --syntax-check accepts the example playbook and inventory."""
    require_tools(("ansible-playbook",), root=False)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg")}
    done = subprocess.run(
        ["ansible-playbook", "--syntax-check", "playbook.yml"],
        cwd=ANSIBLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _var(text: str, name: str) -> str:
    prefix = f"_textfile_redis_{name}: "
    (line,) = (line for line in text.splitlines() if line.startswith(prefix))
    return line.removeprefix(prefix).strip('"')
