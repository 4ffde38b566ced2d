"""Configuration: an INI file, environment overrides, command-line flags, in that order.

Every option is declared once in :data:`OPTIONS` with its default and help;
the sample file ``etc/ec2proxy/ec2proxy.conf.sample`` is generated from it
(``ec2proxy config-sample``) and a test keeps the two equal. An environment
variable ``EC2PROXY_<SECTION>_<OPTION>`` overrides the file.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import pathlib
import types
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class Option:
    section: str
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"EC2PROXY_{self.section}_{self.name}".upper()

    def convert(self, raw: str) -> Any:
        kind = type(self.default)
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"[{self.section}] {self.name}: expected a boolean, got {raw!r}")
            return lowered in ("true", "1", "yes", "on")
        if kind in (int, float):
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"[{self.section}] {self.name}: expected a number, got {raw!r}") from None
        return raw.strip()


OPTIONS: tuple[Option, ...] = (
    Option("DEFAULT", "data_dir", "",
           "Where the embedded default keeps its SQLite database, dev cloud state and AWS CLI files. "
           "Empty: $XDG_DATA_HOME/ec2proxy (~/.local/share/ec2proxy)."),
    Option("api", "listen", "127.0.0.1:8788", "HOST:PORT of the EC2 API listener."),
    Option("api", "region", "RegionOne",
           "The region this proxy serves; SigV4 scopes must name it."),
    Option("api", "availability_zones", "nova",
           "Comma-separated zones answered by DescribeAvailabilityZones when no cloud is reachable."),
    Option("api", "max_body_size", 1048576, "Largest request body accepted, in bytes (413 beyond)."),
    Option("api", "max_parameters", 5000, "Most query/form parameters accepted in one request."),
    Option("api", "rate_limit", 0.0,
           "Requests per second allowed per project and worker (0: no limit); "
           "beyond it RequestLimitExceeded."),
    Option("api", "rate_burst", 50, "Burst size of the per-project rate limiter."),
    Option("api", "access_log", True,
           "Write one JSON line per request (request id, action, project, status, code, duration) to stderr."),
    Option("api", "client_token_lease", 60.0,
           "Seconds a pending ClientToken stays with the worker that claimed it; a retry after that takes it "
           "over and adopts what a crashed worker left in the cloud."),
    Option("api", "terminated_visible", 3600,
           "Seconds a terminated instance stays visible in DescribeInstances."),
    Option("api", "client_token_retention", 86400,
           "Seconds a ClientToken is kept after the last instance it launched terminated (at least a day: "
           "AWS keeps them that long); `ec2proxy db purge` removes older ones."),
    Option("api", "client_token_replay_terminated", "reservation",
           "What a RunInstances retry with the token of an all-terminated reservation gets: 'reservation' "
           "(the terminated reservation, as AWS does) or 'error' (IdempotentInstanceTerminated)."),
    Option("api", "image_stuck_after", 3600,
           "Seconds an image may stay queued or saving in Glance; older ones show 'failed' with a stateReason "
           "and `ec2proxy images stuck --delete` removes them."),
    Option("api", "job_lease", 60,
           "Seconds a background job (CopyImage's data copy) stays with the worker running it; after that "
           "another worker, or this one restarted, takes it over."),
    Option("api", "volume_types", "standard=__DEFAULT__ gp2=__DEFAULT__ gp3=__DEFAULT__",
           "EC2 volume types and the Cinder type each one creates, as EC2=cinder pairs; __DEFAULT__ is the "
           "cloud's default type. A type not listed is refused."),
    Option("api", "external_network", "",
           "Name or id of the Neutron external network elastic IPs come from (default: the only external "
           "network there is)."),
    Option("api", "image_location_allow", "",
           "Hosts and networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) RegisterImage's ImageLocation may "
           "name although they are loopback or link-local (an image server in a lab). Never this proxy's "
           "own listeners."),
    Option("api", "image_location_deny", "",
           "More hosts and networks ImageLocation may not name (loopback, link-local and this proxy's "
           "listeners always are)."),
    Option("api", "header_timeout", 30.0,
           "Seconds a connection may stay without sending a complete request (idle keep-alive included), "
           "on every listener."),
    Option("api", "max_connections_per_address", 256,
           "Open connections one client address may hold on each listener (0: no limit). Behind a load "
           "balancer every client shares its address: raise it there."),
    Option("admin", "listen", "127.0.0.1:8790",
           "HOST:PORT of the admin listener (/healthz, /metrics, /operations); empty to disable."),
    Option("admin", "token", "",
           "Bearer token GET /operations asks for (every project's operations are there). Empty: a random "
           "one kept in DATA_DIR/admin_token."),
    Option("metadata", "listen", "127.0.0.1:8789", "HOST:PORT of the metadata service listener (empty: none)."),
    Option("metadata", "shared_secret", "",
           "The secret the Neutron metadata agent signs X-Instance-ID with (HMAC-SHA256). Empty: a random "
           "one kept in DATA_DIR/metadata/shared_secret (fine for the embedded default only)."),
    Option("metadata", "ip_lookup", False,
           "Without Neutron proxy headers, identify the caller by its source IP among Neutron ports. Only "
           "safe when the network path to this listener cannot be spoofed; off in production."),
    Option("metadata", "cache_ttl", 5.0,
           "Seconds an instance's metadata is kept in memory; our own writes invalidate it at once."),
    Option("metadata", "identity_key", "",
           "PEM private key that signs the instance identity document. Empty: one generated on first start "
           "in DATA_DIR/metadata/ (with its certificate identity.crt)."),
    Option("metadata", "identity_certificate", "",
           "PEM certificate published for identity_key (empty: the generated one)."),
    Option("metadata", "token_key", "",
           "Secret that signs IMDSv2 session tokens, the same on every worker. Empty: the shared secret."),
    Option("metadata", "proxy_listen", "127.0.0.1:8791",
           "HOST:PORT of `ec2proxy metadata-proxy`, the embedded stand-in for Neutron's metadata proxy."),
    Option("auth", "credential_source", "local",
           "Where access keys live: 'local' (this proxy's database) or 'keystone' (EC2 credentials in Keystone)."),
    Option("auth", "max_skew", 900, "Largest accepted clock difference of a signed request, in seconds."),
    Option("auth", "cache_ttl", 10.0,
           "Seconds a verified credential is kept in memory before it is looked up again."),
    Option("openstack", "cloud", "",
           "A clouds.yaml cloud name to use instead of the options below. With neither a cloud nor an "
           "auth_url, ec2proxy starts its embedded dev cloud."),
    Option("openstack", "auth_url", "", "Keystone URL, e.g. https://keystone.example.com/v3."),
    Option("openstack", "auth_type", "password", "keystoneauth1 plugin: password, v3applicationcredential, token."),
    Option("openstack", "username", "", "The proxy's own service user (needs the 'service' role for ec2tokens)."),
    Option("openstack", "password", "", "Its password."),
    Option("openstack", "user_domain_name", "Default", "Its domain."),
    Option("openstack", "project_name", "service", "The project the service user logs in to."),
    Option("openstack", "project_domain_name", "Default", "That project's domain."),
    Option("openstack", "application_credential_id", "", "For auth_type v3applicationcredential."),
    Option("openstack", "application_credential_secret", "", "For auth_type v3applicationcredential."),
    Option("openstack", "region_name", "", "Catalog region to use (empty: the [api] region)."),
    Option("openstack", "interface", "public", "Catalog interface: public, internal or admin."),
    Option("openstack", "timeout", 30.0, "Seconds before a backend call is abandoned."),
    Option("openstack", "retries", 2, "Extra attempts for idempotent reads that failed (5xx, timeout, reset)."),
    Option("devcloud", "listen", "127.0.0.1:0",
           "HOST:PORT of the embedded dev cloud (port 0: any free port); it keeps its state in DATA_DIR/devcloud."),
    Option("devcloud", "delay", 0.5, "Seconds the embedded dev cloud takes for each asynchronous transition."),
    Option("database", "url", "",
           "SQLAlchemy URL (sqlite+aiosqlite:///... or postgresql+asyncpg://...). "
           "Empty: SQLite in the data dir."),
)


def default_data_dir() -> pathlib.Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return pathlib.Path(base) / "ec2proxy"


class Config:
    """Typed options as ``config.api.listen``; ``config.data_dir`` is a Path."""

    def __init__(self, values: Mapping[tuple[str, str], Any], path: str | None = None):
        self.path = path
        sections: dict[str, dict[str, Any]] = {}
        for (section, name), value in values.items():
            sections.setdefault(section.lower(), {})[name] = value
        for section, items in sections.items():
            setattr(self, section, types.SimpleNamespace(**items))
        self.data_dir = pathlib.Path(values[("DEFAULT", "data_dir")] or default_data_dir()).absolute()
        if not self.database.url:
            self.database.url = f"sqlite+aiosqlite:///{self.data_dir / 'ec2proxy.sqlite'}"

    def make_data_dir(self) -> None:
        """The data dir 0700 and its databases 0600: they hold credential secrets in clear.

        Files an older version left readable to others are closed too.
        """
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        for pattern in ("*.sqlite*", "devcloud/*.sqlite*", "metadata/*", "aws/*"):
            for path in self.data_dir.glob(pattern):
                if path.is_file():
                    os.chmod(path, 0o600)

    @property
    def regions(self) -> frozenset[str]:
        return frozenset({self.api.region})

    @property
    def embedded(self) -> bool:
        """True when no cloud is configured: ``serve`` then starts the dev cloud."""
        return not (self.openstack.cloud or self.openstack.auth_url)

    def auth_options(self) -> dict:
        """keystoneauth1 options of the proxy's own identity."""
        if self.openstack.cloud:
            from ec2proxy.cloud.auth import clouds_yaml_options

            return clouds_yaml_options(self.openstack.cloud)
        names = ("auth_url", "auth_type", "username", "password", "user_domain_name", "project_name",
                 "project_domain_name", "application_credential_id", "application_credential_secret")
        options = {name: getattr(self.openstack, name) for name in names}
        if options["auth_type"] != "password":
            for name in ("username", "password", "user_domain_name", "project_name", "project_domain_name"):
                options.pop(name)
        return options


def load(
    path: str | None = None,
    overrides: Mapping[tuple[str, str], str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Defaults, then the INI file, then ``EC2PROXY_*`` variables, then ``overrides``."""
    environ = os.environ if environ is None else environ
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    known = {(o.section, o.name) for o in OPTIONS}
    for section in parser.sections():
        for name in parser[section]:
            if (section, name) not in known and ("DEFAULT", name) not in known:
                raise ValueError(f"{path}: unknown option [{section}] {name}")
    values: dict[tuple[str, str], Any] = {}
    for option in OPTIONS:
        key = (option.section, option.name)
        raw = None
        if option.section == "DEFAULT":
            raw = parser.defaults().get(option.name)
        elif parser.has_section(option.section) and parser.has_option(option.section, option.name):
            raw = parser.get(option.section, option.name)
        raw = environ.get(option.env, raw)
        if overrides and key in overrides:
            raw = overrides[key]
        values[key] = option.default if raw is None else option.convert(raw)
    return Config(values, path)


def sample() -> str:
    """The documented sample configuration, every option at its default."""
    lines = ["# ec2proxy configuration. Every option is shown with its default.",
             "# Any option can also be set as EC2PROXY_<SECTION>_<OPTION> in the environment.", ""]
    section = None
    for option in OPTIONS:
        if option.section != section:
            section = option.section
            lines.append(f"[{section}]")
        lines.append(f"# {option.help}")
        default = option.default
        if isinstance(default, bool):
            default = str(default).lower()
        lines.append(f"#{option.name} = {default}")
        lines.append("")
    return "\n".join(lines)


def split_hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
