"""Who may call what: one oslo.policy rule per action, checked before any handler runs.

The defaults are OpenStack's personas in the caller's project: a reader may
call every ``Describe*``/``Get*`` action, a member everything, an admin as a
member (no EC2 action is an operator's alone). Operators override any rule in
a ``policy.yaml``, as for Nova or Neutron. What only the proxy keeps (tags,
attributes, DHCP option sets, ClientTokens) has no other guard than this.

The file is read and checked once, at start: a rule that does not parse, that
names no action or that points at a rule nobody defined stops ``serve`` with
one line, instead of failing closed (or open) on requests later.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import re
from typing import Iterable, Iterator

from oslo_config import cfg
from oslo_policy import policy as oslo

from ec2proxy.ec2 import errors

NAMESPACE = "ec2proxy"
READ_PREFIXES = ("Describe", "Get")
# Keystone grants these implicitly (admin implies member implies reader); local keys are given the same.
IMPLIED = {"admin": ("member", "reader"), "member": ("reader",)}
DECISIONS_KEPT = 20000

BASE_RULES = (
    oslo.RuleDefault("project_reader", "role:reader or role:member or role:admin",
                     "May read: a reader, member or admin of the project."),
    oslo.RuleDefault("project_member", "role:member or role:admin",
                     "May change the project's resources: a member or admin of the project."),
    oslo.RuleDefault("cloud_admin", "role:admin",
                     "An admin of the project. No EC2 action needs it by default; for overrides."),
)


class PolicyFileError(ValueError):
    """A policy file that cannot be used as it is; the message is one line naming the file and the rule."""


def rule_name(service: str, action: str) -> str:
    return f"{service}:{action}"


def action_rules(actions: Iterable[tuple[str, str]]) -> list[oslo.RuleDefault]:
    """The base rules and one rule per (service, action): readers read, members change."""
    rules = list(BASE_RULES)
    for service, action in sorted(actions):
        base = "project_reader" if action.startswith(READ_PREFIXES) else "project_member"
        what = "Read" if base == "project_reader" else "Call"
        rules.append(oslo.RuleDefault(rule_name(service, action), f"rule:{base}",
                                      f"{what} {service.upper()} {action} in one's own project."))
    return rules


def with_implied(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles and those they imply, as a Keystone token lists them."""
    found = dict.fromkeys(role for role in roles if role)
    for role in list(found):
        found.update(dict.fromkeys(IMPLIED.get(role.lower(), ())))
    return tuple(found)


class Policy:
    """The rules in force: the defaults, overridden by ``policy_file`` when one is given."""

    def __init__(self, defaults: list[oslo.RuleDefault], policy_file: str | None = None):
        self._decisions: dict[tuple[str, str, str, tuple[str, ...]], bool] = {}
        conf = cfg.ConfigOpts()
        conf([], project=NAMESPACE, default_config_files=[], default_config_dirs=[])
        self.path = str(pathlib.Path(policy_file).absolute()) if policy_file else None
        self._enforcer = oslo.Enforcer(conf, policy_file=self.path or "policy.yaml")
        conf.set_override("policy_dirs", [], group="oslo_policy")
        self._enforcer.register_defaults(defaults)
        if self.path is None:  # the defaults alone: no file is looked for
            self._enforcer.set_rules({rule.name: rule.check for rule in defaults}, use_conf=False)
        else:
            self._check_file(self.path, {rule.name for rule in defaults})
            with _quiet():
                self._enforcer.load_rules()
                if self._enforcer.policy_path != self.path:
                    raise PolicyFileError(f"policy file {self.path}: not found")
                try:
                    self._enforcer.check_rules(raise_on_violation=True)
                except oslo.InvalidDefinitionError as exc:
                    names = ", ".join(re.findall(r"'([^']+)'", str(exc)))  # its message lists them
                    raise PolicyFileError(f"policy file {self.path}: rules that refer to each other in a circle: "
                                          f"{names}") from None
        self._enforcer.use_conf = False  # read once: a file edited later takes effect at the next start

    @property
    def enforcer(self) -> oslo.Enforcer:
        return self._enforcer

    def allows(self, rule: str, project_id: str, user_id: str, roles: Iterable[str]) -> bool:
        return self._decide(rule, project_id, user_id, tuple(roles))

    def _decide(self, rule: str, project_id: str, user_id: str, roles: tuple[str, ...]) -> bool:
        # Creds and target are made of these arguments alone and the rules never change after start, so a
        # decision is remembered: oslo.policy inspects each check's signature on every call (about 70 us).
        key = (rule, project_id, user_id, roles)
        known = self._decisions.get(key)
        if known is None:
            creds = {"roles": list(roles), "project_id": project_id, "user_id": user_id}
            known = bool(self._enforcer.authorize(rule, {"project_id": project_id, "user_id": user_id}, creds))
            if len(self._decisions) >= DECISIONS_KEPT:
                self._decisions.clear()
            self._decisions[key] = known
        return known

    def authorize(self, rule: str, project_id: str, user_id: str, roles: Iterable[str]) -> None:
        """Raise ``UnauthorizedOperation`` unless the rule lets these roles call it."""
        if not self.allows(rule, project_id, user_id, roles):
            raise errors.UnauthorizedOperation()

    def _check_file(self, path: str, registered: set[str]) -> None:
        try:
            text = pathlib.Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyFileError(f"policy file {path}: cannot be read ({exc.strerror or exc})") from None
        try:
            rules = oslo.parse_file_contents(text)
        except ValueError as exc:
            raise PolicyFileError(f"policy file {path}: not YAML ({' '.join(str(exc).split())[:200]})") from None
        if not isinstance(rules, dict):
            raise PolicyFileError(f"policy file {path}: expected a mapping of rule names to rules")
        referenced = set()
        for name, text in rules.items():
            if not isinstance(name, str) or not isinstance(text, str):
                raise PolicyFileError(f"policy file {path}: rule {name!r}: expected a text rule such as "
                                      "\"role:member\"")
            if _parses_to_nothing(name, text):
                raise PolicyFileError(f"policy file {path}: rule {name!r}: {text!r} does not parse")
            referenced |= {word.split(":", 1)[1] for word in text.replace("(", " ").replace(")", " ").split()
                           if word.startswith("rule:")}
        for name in rules:
            if ":" in name and name not in registered:
                raise PolicyFileError(f"policy file {path}: rule {name!r} names no action of this proxy")
        for name in referenced - set(rules) - registered:
            raise PolicyFileError(f"policy file {path}: a rule refers to rule:{name}, which is not defined")


def _parses_to_nothing(name: str, text: str) -> bool:
    """oslo.policy turns a rule it cannot parse into "never" and logs a traceback: caught here, quietly."""
    with _quiet():
        parsed = oslo.RuleDefault(name, text).check
    return str(parsed) == "!" and text.strip() != "!"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """oslo.policy's own log lines while the file is checked: what is wrong is said once, in our error."""
    logs = [logging.getLogger(name) for name in ("oslo_policy._parser", "oslo_policy.policy")]
    before = [log.disabled for log in logs]
    for log in logs:
        log.disabled = True
    try:
        yield
    finally:
        for log, disabled in zip(logs, before, strict=True):
            log.disabled = disabled
