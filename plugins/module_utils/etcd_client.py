# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The one client the ezops.etcd modules use to drive ``etcdctl`` and ``etcdutl``.

It finds the binaries (an explicit path, the kubeasz ``bin_dir`` /opt/kube/bin, then PATH), builds
argument lists (never shell strings) with the endpoints, TLS files and ``-w json``, runs them with
``LANG=C`` through a single seam (``EtcdClient._run_command``, which unit tests replace) and turns
failures into the typed errors of ``etcd_common``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import time

from ansible.module_utils.basic import env_fallback
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import (
    EtcdCommandError,
    EtcdConfigError,
    EtcdError,
    EtcdTimeout,
    EtcdTLSError,
    EtcdUnreachable,
    SnapshotError,
    classify_error,
    config_error,
    failed_status_endpoints,
    parse_alarms,
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
    redact,
    split_credentials,
    split_endpoints,
    supports_bump_revision,
    url_problems,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import as_tuple, at_least, find as find_version

from urllib.parse import urlsplit

DEFAULT_BIN_DIRS = ("/opt/kube/bin",)
DEFAULT_CACERT = "/etc/kubernetes/ssl/ca.pem"
DEFAULT_CERT = "/etc/kubernetes/ssl/etcd.pem"
DEFAULT_KEY = "/etc/kubernetes/ssl/etcd-key.pem"


def connection_argument_spec():
    """The options of the ``ezops.etcd.connection`` doc fragment, with ETCDCTL_* fallbacks."""
    return dict(
        endpoints=dict(type="list", elements="str", default=["https://127.0.0.1:2379"],
                       fallback=(env_fallback, ["ETCDCTL_ENDPOINTS"])),
        cacert=dict(type="path", default=DEFAULT_CACERT, fallback=(env_fallback, ["ETCDCTL_CACERT"])),
        cert=dict(type="path", default=DEFAULT_CERT, fallback=(env_fallback, ["ETCDCTL_CERT"])),
        key=dict(type="path", default=DEFAULT_KEY, no_log=False,
                 fallback=(env_fallback, ["ETCDCTL_KEY"])),
        # no_log: the user may carry its password (name:password), as etcdctl's --user allows.
        user=dict(type="str", no_log=True, fallback=(env_fallback, ["ETCDCTL_USER"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["ETCDCTL_PASSWORD"])),
        command_timeout=dict(type="int", default=30),
        etcdctl_path=dict(type="path"),
        etcdutl_path=dict(type="path"),
    )


TLS_DEFAULTS = {"cacert": DEFAULT_CACERT, "cert": DEFAULT_CERT, "key": DEFAULT_KEY}


def secrets_of(params):
    """Every password the connection options carry (the password option and the part of user
    after its ':'), to keep them out of results."""
    found = []
    password = params.get("password")
    if password:
        found.append(password)
    user = params.get("user") or ""
    if ":" in user:
        found.extend([user, user.partition(":")[2]])
    return [s for s in found if s]


def connection_problems(params):
    """Problems of the connection options that no command needs to reveal, [] when fine."""
    endpoints = split_endpoints(params.get("endpoints"))
    problems = url_problems(endpoints, "endpoint", "2379")
    if endpoints and not problems and all(e.lower().startswith("http://") for e in endpoints):
        explicit = [o for o in ("cacert", "cert", "key")
                    if params.get(o) and params.get(o) != TLS_DEFAULTS[o]]
        if explicit:
            problems.append((
                "endpoints %s are plain http://, which etcdctl reaches without TLS, yet %s %s set"
                % (", ".join(endpoints), " and ".join(explicit),
                   "is" if len(explicit) == 1 else "are"),
                "use https:// endpoints if etcd serves TLS there, or set cacert, cert and key to "
                "null for a plain-http listener"))
    return problems


def _grouped(items):
    """[(endpoint, detail)] -> 'ep1, ep2: detail; ep3: other detail'."""
    order, by_detail = [], {}
    for endpoint, detail in items:
        if detail not in by_detail:
            order.append(detail)
            by_detail[detail] = []
        by_detail[detail].append(endpoint)
    return "; ".join("%s: %s" % (", ".join(by_detail[d]), d) for d in order)


def refine_with_probes(cls, message, probes):
    """Sharpen an ambiguous failure with what probing each endpoint found.

    ``probes`` is a list of (endpoint, kind, detail), kind being None (answers), 'unreachable' or
    'tls'. -> (error class, message)."""
    tls = [(ep, detail) for ep, kind, detail in probes if kind in ("tls", "suspect_tls")]
    down = [(ep, detail) for ep, kind, detail in probes if kind == "unreachable"]
    if tls:
        return EtcdTLSError, "TLS rejected (%s)" % _grouped(tls)
    if probes and len(down) == len(probes):
        return EtcdUnreachable, "no endpoint accepts connections (%s)" % _grouped(down)
    if cls in (EtcdUnreachable, EtcdTimeout):
        note = (" (unreachable: %s)" % _grouped(down)) if down else ""
        return EtcdTimeout, "%s%s" % (message, note)
    return cls, message


class EtcdClient(object):
    """Wraps etcdctl/etcdutl for one module run (``module`` is an AnsibleModule)."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.endpoints = split_endpoints(params.get("endpoints"))
        if not self.endpoints:
            raise EtcdConfigError("endpoints is empty",
                                  hint="list client URLs such as https://10.0.0.1:2379")
        self.cacert = params.get("cacert") or None
        self.cert = params.get("cert") or None
        self.key = params.get("key") or None
        if all(e.lower().startswith("http://") for e in self.endpoints):
            # etcdctl uses no TLS for http:// endpoints: the kubeasz default files do not apply.
            for option, default in TLS_DEFAULTS.items():
                if getattr(self, option) == default:
                    setattr(self, option, None)
        self.user, self.password = split_credentials(params.get("user"), params.get("password"))
        self.timeout = max(1, int(params.get("command_timeout") or 30))
        self._paths = {"etcdctl": params.get("etcdctl_path"), "etcdutl": params.get("etcdutl_path")}
        self._found = {}
        self._version = None
        self._bump_support = None
        self._usable = None

    # --- the seam ---------------------------------------------------------------------------
    def _run_command(self, argv, env):
        """Run ``argv`` (a list) and return (rc, stdout, stderr). Unit tests replace this."""
        for var in list(os.environ):
            if var.startswith("ETCDCTL_"):
                # etcdctl refuses a flag that an ETCDCTL_* variable also sets; flags win here.
                del os.environ[var]
        return self.module.run_command(argv, environ_update=env, check_rc=False)

    # --- binaries and version ---------------------------------------------------------------
    def binary(self, name, required=True):
        if name in self._found:
            return self._found[name]
        explicit = self._paths.get(name)
        path = None
        if explicit:
            if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
                raise EtcdConfigError("%s_path %s is not an executable file" % (name, explicit),
                                      hint="point %s_path at the %s binary" % (name, name))
            path = explicit
        else:
            dirs = list(DEFAULT_BIN_DIRS)
            if name == "etcdutl" and self._paths.get("etcdctl"):
                dirs.insert(0, os.path.dirname(self._paths["etcdctl"]))
            for directory in dirs:
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                    path = candidate
                    break
            if path is None:
                path = self.module.get_bin_path(name)
        if path is None and required:
            raise EtcdConfigError(
                "%s was found neither in %s nor in PATH" % (name, ", ".join(DEFAULT_BIN_DIRS)),
                hint="install it (the etcd role does) or set %s_path" % name)
        self._found[name] = path
        return path

    def _env(self, auth=False):
        """The environment of a command. With ``auth``, the credentials go in ETCDCTL_USER and
        ETCDCTL_PASSWORD, never in argv (visible in ps and in the returned cmd); no --user flag is
        passed then, since etcdctl refuses a flag whose ETCDCTL_* variable is also set."""
        env = {"LANG": "C", "LC_ALL": "C", "ETCDCTL_API": "3"}
        if auth and self.user:
            env["ETCDCTL_USER"] = self.user
            env["ETCDCTL_PASSWORD"] = self.password
        return env

    def version(self):
        """The etcdctl version (e.g. '3.5.16'), which matches the etcd it ships with."""
        if self._version is None:
            argv = [self.binary("etcdctl"), "version"]
            rc, out, err = self._run_command(argv, self._env())
            version = find_version(out)
            if rc != 0 or not version:
                raise EtcdCommandError("cannot tell the etcdctl version", cmd=argv, rc=rc,
                                       stdout=out, stderr=err,
                                       hint="check that etcdctl_path is an etcdctl binary")
            self._version = version
        return self._version

    # --- online commands (etcdctl against endpoints) ----------------------------------------
    def _check_tls_files(self):
        for option, value in (("cacert", self.cacert), ("cert", self.cert), ("key", self.key)):
            if value and not os.path.isfile(value):
                raise EtcdConfigError(
                    "%s %s does not exist" % (option, value),
                    hint="set %s (or ETCDCTL_%s) to an existing file, or to null with plain-http "
                         "endpoints" % (option, option.upper()))
        if bool(self.cert) != bool(self.key):
            raise EtcdConfigError("cert and key go together: only one of them is set",
                                  hint="set both, or neither")

    def global_flags(self, endpoints):
        flags = ["--endpoints=" + ",".join(endpoints),
                 "--dial-timeout=%ds" % min(self.timeout, 5),
                 "--command-timeout=%ds" % self.timeout]
        for option in ("cacert", "cert", "key"):
            value = getattr(self, option)
            if value:
                flags.append("--%s=%s" % (option, value))
        return flags

    def ctl(self, args, endpoints=None, json_output=True, check=True):
        """Run ``etcdctl <flags> [-w json] <args>`` -> (rc, stdout, stderr).

        Without ``endpoints``, the configured endpoints are probed once and the ones that cannot
        answer (refused, TLS rejected) are left out, so they do not cost a timeout each."""
        if not endpoints:
            if self._usable is None:
                self._usable = self.preflight()[0]
            endpoints = self._usable
        self._check_tls_files()
        argv = [self.binary("etcdctl")] + self.global_flags(endpoints)
        if json_output:
            argv += ["-w", "json"]
        argv += [str(a) for a in args]
        rc, out, err = self._run_command(argv, self._env(auth=True))
        if rc != 0 and check:
            raise self.error_for(args, argv, rc, out, err, endpoints)
        return rc, out, err

    def error_for(self, args, argv, rc, out, err, endpoints):
        cls, message = classify_error(err, out)
        if cls in (EtcdTimeout, EtcdUnreachable):
            cls, message = refine_with_probes(cls, message, [self.probe(ep) for ep in endpoints])
        return cls("etcdctl %s failed against %s: %s"
                   % (" ".join(str(a) for a in args), ", ".join(endpoints), message),
                   cmd=argv, rc=rc, stdout=out, stderr=err)

    def probe(self, endpoint):
        """Connect to one endpoint (TCP, TLS with our files, ``GET /version``).

        -> (endpoint, kind, detail); kind is None when it answers (or nothing is conclusive),
        'unreachable', 'tls' (certain) or 'suspect_tls' (a plain request was dropped)."""
        parts = urlsplit(endpoint if "://" in endpoint else "http://" + endpoint)
        host, port = parts.hostname, parts.port or 2379
        wait = min(self.timeout, 5)
        try:
            sock = socket.create_connection((host, port), timeout=wait)
        except (OSError, ValueError) as exc:
            return endpoint, "unreachable", "cannot connect to %s:%s (%s)" % (host, port, exc)
        try:
            if parts.scheme == "https":
                try:
                    context = self._tls_context()
                except (ssl.SSLError, OSError) as exc:
                    return endpoint, None, "cannot load the TLS files here (%s)" % exc
                sock = context.wrap_socket(sock, server_hostname=host)
            sock.settimeout(wait)
            sock.sendall(b"GET /version HTTP/1.1\r\nHost: etcd\r\nConnection: close\r\n\r\n")
            reply = sock.recv(512)
        except ssl.SSLCertVerificationError as exc:
            return endpoint, "tls", "its certificate is not trusted by cacert %s (%s)" % (
                self.cacert or "(system CAs)", exc.verify_message or exc)
        except ssl.SSLError as exc:
            text = "%s %s" % (getattr(exc, "reason", "") or "", exc)
            if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
                return endpoint, "tls", "it does not serve TLS: use http://"
            if "CERTIFICATE" in text.upper():
                return endpoint, "tls", "etcd rejected the client certificate %s (%s)" % (
                    self.cert or "(none)", getattr(exc, "reason", None) or exc)
            return endpoint, "tls", "TLS handshake failed (%s)" % exc
        except socket.timeout:
            return endpoint, None, "no answer to GET /version"
        except OSError as exc:
            return endpoint, None, "connection dropped (%s)" % exc
        finally:
            sock.close()
        if reply.startswith(b"HTTP/"):
            return endpoint, None, "answers"
        if parts.scheme != "https" and (not reply or reply[:1] == b"\x15"):
            if self._speaks_tls(host, port, wait):
                return endpoint, "tls", "it serves TLS: use https:// (with cacert, cert and key)"
            return endpoint, "suspect_tls", "it dropped a plain-http request"
        return endpoint, None, "unexpected reply %r" % reply[:40]

    @staticmethod
    def _speaks_tls(host, port, wait):
        """Whether host:port completes (or starts) a TLS handshake, certificates aside."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((host, port), timeout=wait) as raw:
                with context.wrap_socket(raw) as tls:
                    return tls.version() is not None
        except ssl.SSLError as exc:
            return "WRONG_VERSION_NUMBER" not in str(exc) and "wrong version" not in str(exc)
        except (OSError, ValueError):
            return False

    def preflight(self, endpoints=None):
        """Probe ``endpoints`` -> (those worth asking, {endpoint: reason} of certain failures).

        Raises the typed error when none is worth asking, without waiting for etcdctl's
        command timeout on each of them."""
        endpoints = endpoints or self.endpoints
        self._check_tls_files()
        probes = [self.probe(ep) for ep in endpoints]
        good = [ep for ep, kind, _detail in probes if kind in (None, "suspect_tls")]
        bad = dict((ep, detail) for ep, kind, detail in probes if kind in ("unreachable", "tls"))
        if not good:
            cls, message = refine_with_probes(EtcdUnreachable, "no endpoint answers", probes)
            raise cls("cannot reach etcd at %s: %s" % (", ".join(endpoints), message))
        return good, bad

    # --- offline commands (snapshot status/restore) -------------------------------------------
    def offline_tool(self):
        """etcdutl on 3.5+ (etcd 3.6 has no 'etcdctl snapshot restore'), etcdctl on 3.4."""
        version = self.version()
        if at_least(version, (3, 5)):
            path = self.binary("etcdutl", required=at_least(version, (3, 6)))
            if path:
                return "etcdutl", path
        return "etcdctl", self.binary("etcdctl")

    def util(self, args, json_output=True, check=True):
        name, path = self.offline_tool()
        argv = [path] + (["-w", "json"] if json_output else []) + [str(a) for a in args]
        rc, out, err = self._run_command(argv, self._env())
        if rc != 0 and check:
            cls, message = classify_error(err, out)
            if cls is EtcdCommandError:
                cls = SnapshotError
            if rc < 0 or rc > 128 or "fatal error" in (err or ""):
                message = "%s crashed reading the file (%s)" % (name, message or "signal %d" % -rc)
            raise cls("%s %s failed: %s" % (name, " ".join(str(a) for a in args), message),
                      cmd=argv, rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def restore_supports_bump(self):
        if self._bump_support is None:
            rc, out, err = self.util(["snapshot", "restore", "--help"], json_output=False,
                                     check=False)
            self._bump_support = supports_bump_revision(out + err)
        return self._bump_support

    # --- cluster observations -----------------------------------------------------------------
    def members(self, endpoints=None):
        rc, out, err = self.ctl(["member", "list"], endpoints=endpoints)
        return parse_member_list(out)

    def status(self, endpoints=None):
        """-> (statuses of the endpoints that answered, {endpoint: reason} of the others)."""
        endpoints = endpoints or self.endpoints
        good, failed = self.preflight(endpoints)
        rc, out, err = self.ctl(["endpoint", "status"], endpoints=good, check=False)
        statuses = parse_endpoint_status(out) if out.strip().startswith("[") else []
        answered = set(s["endpoint"] for s in statuses)
        reasons = failed_status_endpoints(err)
        for endpoint in good:
            if endpoint not in answered:
                failed[endpoint] = reasons.get(endpoint, "no answer")
        if not statuses and rc != 0:
            raise self.error_for(["endpoint", "status"], None, rc, out, err, good)
        return statuses, failed

    def health(self, endpoints=None):
        endpoints = endpoints or self.endpoints
        rc, out, err = self.ctl(["endpoint", "health"], endpoints=endpoints, check=False)
        if out.strip().startswith("["):
            return parse_endpoint_health(out)
        return [{"endpoint": ep, "health": False, "took": None, "error": err.strip()[-300:]}
                for ep in endpoints]

    def alarms(self, endpoints=None):
        rc, out, err = self.ctl(["alarm", "list"], endpoints=endpoints)
        return parse_alarms(out)

    def cluster_info(self, cluster=False, fail_on_unreachable=True):
        """Everything etcd_info returns; fails only when no endpoint answers."""
        errors = []
        members, cluster_id = [], None
        endpoints = list(self.endpoints)
        try:
            if cluster:
                cluster_id, members = self.members()
                endpoints = split_endpoints([u for m in members for u in m["client_urls"]]) \
                    or endpoints
            statuses, failed = self.status(endpoints)
        except EtcdError as exc:
            if fail_on_unreachable:
                raise
            return empty_info(endpoints, exc, members)
        answering = [s["endpoint"] for s in statuses]
        health = self.health(answering) + [
            {"endpoint": ep, "health": False, "took": None, "error": reason}
            for ep, reason in sorted(failed.items())]
        if not cluster:
            try:
                cluster_id, members = self.members(answering)
            except EtcdError as exc:
                errors.append(exc.message)
        try:
            alarms = self.alarms(answering)
        except EtcdError as exc:
            alarms = []
            errors.append(exc.message)
        return summarize(statuses, failed, health, members, alarms, cluster_id, errors)

    def _tls_context(self):
        """A client context that trusts cacert (the system CAs without it) and presents cert and key."""
        context = ssl.create_default_context(cafile=self.cacert) if self.cacert else ssl.create_default_context()
        if self.cert and self.key:
            context.load_cert_chain(self.cert, self.key)
        return context

    def _peer_certificate(self, endpoint):
        """The certificate one https endpoint serves, as ssl's getpeercert() parses it (verified
        against cacert). Unit tests replace this."""
        parts = urlsplit(endpoint)
        wait = min(self.timeout, 5)
        with socket.create_connection((parts.hostname, parts.port or 2379), timeout=wait) as raw:
            with self._tls_context().wrap_socket(raw, server_hostname=parts.hostname) as tls:
                return tls.getpeercert()

    def served_certificates(self, endpoints):
        """{endpoint: {subject, issuer, serial, not_after (epoch seconds), sans} of the certificate it
        serves now, or {error}}: what clients see, which need not be the file on disk."""
        found = {}
        for endpoint in endpoints:
            if urlsplit(endpoint).scheme != "https":
                continue
            try:
                found[endpoint] = describe_peer_certificate(self._peer_certificate(endpoint))
            except (OSError, ValueError) as exc:
                found[endpoint] = {"error": str(exc)}
        return found

    def _http_get(self, endpoint, path):
        """GET ``path`` from one endpoint with the TLS files -> (HTTP status, body). Unit tests
        replace this."""
        parts = urlsplit(endpoint)
        port, wait = parts.port or 2379, min(self.timeout, 5)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, port, timeout=wait, context=self._tls_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=wait)
        try:
            conn.request("GET", path)
            reply = conn.getresponse()
            return reply.status, reply.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def cluster_versions(self, endpoints):
        """{endpoint: the cluster version it reports (etcd's GET /version, e.g. '3.5.0'), or None}.
        etcdctl shows only server versions; the cluster version is what the leader decided all
        members support, and it rises only after every member runs the new minor release."""
        found = {}
        for endpoint in endpoints:
            try:
                status, body = self._http_get(endpoint, "/version")
                found[endpoint] = json.loads(body).get("etcdcluster") if status == 200 else None
            except (OSError, ValueError, AttributeError, http.client.HTTPException):
                found[endpoint] = None
        return found

    def wait_cluster_version(self, version, endpoints, timeout):
        """Poll until every endpoint reports the cluster version of ``version``'s major.minor
        -> (reached, {endpoint: cluster version last seen})."""
        wanted = as_tuple(version)[:2]
        seen = {}

        def reached():
            seen.update(self.cluster_versions(endpoints))
            return bool(seen) and all(v and as_tuple(v)[:2] == wanted for v in seen.values())

        return bool(self.wait_for(reached, timeout)), seen

    def wait_for(self, predicate, timeout, interval=1.0):
        """Call ``predicate()`` until it returns a true value or ``timeout`` seconds pass."""
        deadline = time.time() + timeout
        while True:
            value = predicate()
            if value or time.time() >= deadline:
                return value
            time.sleep(interval)


def describe_peer_certificate(peer):
    """ssl's getpeercert() dict -> {subject, issuer, serial (lower-case hex), not_after (epoch s), sans}."""
    def common_name(name):
        return ", ".join(value for rdn in name or () for key, value in rdn if key == "commonName")
    return {"subject": common_name(peer.get("subject")), "issuer": common_name(peer.get("issuer")),
            "serial": (peer.get("serialNumber") or "").lower().lstrip("0") or "0",
            "not_after": int(ssl.cert_time_to_seconds(peer["notAfter"])),
            "sans": ["%s:%s" % item for item in peer.get("subjectAltName") or ()]}


def empty_info(endpoints, exc, members=None):
    return {"cluster_id": None, "members": members or [], "endpoints": [], "health": [],
            "alarms": [], "failed_endpoints": list(endpoints), "healthy": False, "readable": False, "leader": None,
            "version": None, "revision": None, "errors": [exc.message], "error_kind": exc.kind}


def summarize(statuses, failed, health, members, alarms, cluster_id, errors):
    leaders = [s["leader"] for s in statuses if s["leader"]]
    leader = max(set(leaders), key=leaders.count) if leaders else None
    versions = sorted((s["version"] for s in statuses if s["version"]),
                      key=lambda v: tuple(int(x) for x in v.split(".")[:3] if x.isdigit()))
    healthy_eps = set(h["endpoint"] for h in health if h["health"])
    failed_endpoints = sorted(failed)
    # A learner cannot serve the quorum read of a health check; it counts as healthy when it
    # answers its status and follows the cluster's leader (its "health" entry stays false).
    healthy = (bool(statuses) and not failed_endpoints and not alarms and leader is not None
               and all(s["endpoint"] in healthy_eps or (s.get("is_learner") and s["leader"] == leader)
                       for s in statuses))
    # A snapshot is a read: a NOSPACE alarm (which fails every member's health check in etcd 3.5)
    # does not stop one, a CORRUPT alarm does (which member holds the good data is not known).
    alarm_types = set(a.get("alarm") for a in alarms)
    readable = (bool(statuses) and not failed_endpoints and leader is not None and "CORRUPT" not in alarm_types
                and all(s["endpoint"] in healthy_eps or s["leader"] == leader and (alarm_types or s.get("is_learner"))
                        for s in statuses))
    cluster_id = cluster_id or (statuses[0].get("cluster_id") if statuses else None)
    for status in statuses:
        status.pop("cluster_id", None)
    return {
        "cluster_id": cluster_id,
        "members": members,
        "endpoints": statuses,
        "health": health,
        "alarms": alarms,
        "failed_endpoints": failed_endpoints,
        "failed_reasons": dict((ep, failed.get(ep, "unhealthy")) for ep in failed_endpoints),
        "healthy": healthy,
        "readable": readable,
        "leader": leader,
        "version": versions[0] if versions else None,
        "revision": max(s["revision"] for s in statuses) if statuses else None,
        "errors": errors,
    }


def run_module(module, func):
    """Check the connection options, run ``func(client)`` and exit; typed errors become fail_json
    with error_kind. No password reaches a result: the module masks them, and so does this."""
    secrets = secrets_of(module.params)
    no_log_values = getattr(module, "no_log_values", None)
    if no_log_values is not None:
        no_log_values.update(secrets)
    try:
        problems = connection_problems(module.params)
        if problems:
            raise config_error(problems)
        client = EtcdClient(module)
        result = func(client)
    except EtcdError as exc:
        module.fail_json(**exc.to_result(secrets))
    module.exit_json(**redact(result, secrets))
