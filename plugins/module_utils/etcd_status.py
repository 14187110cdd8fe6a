# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The cluster status report of playbooks/status.yml, from what every member saw.

Each member asks every member (``etcd_info`` with ``fail_on_unreachable=false``); a member that
Ansible could not reach, or whose query failed, has no view. The report merges the views, so one
answer from any vantage point is enough to fill a member's row, and it prints even when members
are down: the point of a status is to work when something is wrong.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_certs import days_left


def host_of(url):
    return urlsplit(url).hostname or url


def certificate_days(views, file_certs, now):
    """Days left on each member's certificate, and the members serving another certificate than their file.

    ``views``: {asker: etcd_info result with served_certificates}; ``file_certs``: {host: {"not_after":
    epoch seconds, "serial": lower-case hex}} of the file each member's unit names, as
    ``etcd_certs.describe_pem`` reads it; both are counted with ``etcd_certs.days_left``.
    -> ({host: days left on the certificate it serves, else on its file}, {host: (served serial, file serial)})."""
    served = {}
    for view in views.values():
        for endpoint, cert in ((view or {}).get("served_certificates") or {}).items():
            if isinstance(cert, dict) and cert.get("not_after") is not None:
                served.setdefault(host_of(endpoint), cert)
    days, differs = {}, {}
    for host in set(served) | set(file_certs):
        if host in served:
            days[host] = days_left(served[host], now)
        else:
            days[host] = days_left(file_certs[host], now) if file_certs[host].get("not_after") is not None else None
        file_serial = (file_certs.get(host) or {}).get("serial")
        if host in served and file_serial and served[host].get("serial") != file_serial:
            differs[host] = (served[host].get("serial"), file_serial)
    return days, differs


def _size(value):
    value = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return "%.1f GiB" % value  # pragma: no cover


def table(header, rows):
    """Left-aligned columns two spaces apart, as etcdctl's simple output reads."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header] + rows]


def merge_views(views):
    """{member: etcd_info result or None} -> (status by host, health by host, member list, alarms,
    why each host did not answer, the members that could ask)."""
    statuses, health, reasons = {}, {}, {}
    members, alarms, askers = [], {}, []
    for asker, view in views.items():
        if not isinstance(view, dict) or not (view.get("endpoints") or view.get("failed_endpoints")):
            continue
        askers.append(asker)
        for status in view.get("endpoints") or []:
            host = host_of(status["endpoint"])
            # a member's own answer is the one to print; another's fills in when it has none
            if host not in statuses or host == asker:
                statuses[host] = status
        for entry in view.get("health") or []:
            host = host_of(entry["endpoint"])
            if entry.get("health") or host not in health:
                health[host] = entry
        for endpoint, reason in (view.get("failed_reasons") or {}).items():
            reasons.setdefault(host_of(endpoint), {}).setdefault(reason, []).append(asker)
        if len(view.get("members") or []) > len(members):
            members = view["members"]
        for alarm in view.get("alarms") or []:
            alarms[(alarm.get("member_id"), alarm.get("alarm"))] = alarm
    said = dict((host, ["%s (seen from %s)" % (reason, ", ".join(seen)) for reason, seen in by_reason.items()])
                for host, by_reason in reasons.items())
    return statuses, health, members, sorted(alarms), said, askers


def status_report(hosts, views, cert_days=None, quota_bytes=None, min_cert_days=30, unreachable=None, cert_differs=None):
    """The two tables and the problems of the cluster.

    ``hosts``: the inventory's members, in order. ``views``: {host: etcd_info result, or None}.
    ``cert_days``: {host: days left on the certificate it serves, or None}. ``unreachable``:
    {host: why Ansible could not run the query there}. ``cert_differs``: {host: (served serial, file serial)}.
    -> {"lines": [...], "healthy": bool, "problems": [...]}.
    """
    cert_days = cert_days or {}
    unreachable = unreachable or {}
    statuses, health, members, alarms, reasons, askers = merge_views(views)
    by_id = dict((m["id"], m) for m in members)
    leader_ids = set(s["leader"] for s in statuses.values() if s.get("leader"))
    problems = []
    rows = []
    extra = [host_of(u) for m in members for u in (m.get("client_urls") or m.get("peer_urls") or [])[:1]]
    for host in list(hosts) + [h for h in extra if h not in hosts]:
        status = statuses.get(host)
        days = cert_days.get(host)
        if status:
            alarm_names = sorted(set(a for mid, a in alarms if mid == status["id"]))
            ok = health.get(host, {}).get("health") or (status.get("is_learner") and status["leader"] in leader_ids)
            state = "healthy" if ok else "unhealthy: %s" % (health.get(host, {}).get("error") or "no quorum read")
            quota = ("%d %%" % round(100.0 * status["db_size"] / quota_bytes)) if quota_bytes else "?"
            name = by_id.get(status["id"], {}).get("name") or "etcd-%s" % host
            rows.append([name, status["id"], status["version"], "yes" if status.get("is_leader") else "no",
                         "yes" if status.get("is_learner") else "no", status["raft_term"], status["raft_index"],
                         "%s (%s)" % (_size(status["db_size"]), quota), ",".join(alarm_names) or "-",
                         "?" if days is None else days, state])
            if not ok:
                problems.append("%s is unhealthy: %s" % (host, state.split(": ", 1)[1]))
        else:
            why = reasons.get(host) or ([unreachable[host]] if host in unreachable else ["no member answered for it"])
            state = "down: %s" % "; ".join(why)
            rows.append(["etcd-%s" % host, "-", "-", "-", "-", "-", "-", "-", "-", "?" if days is None else days,
                         state])
            problems.append("%s did not answer (%s)" % (host, "; ".join(why)))
        if days is not None and days < min_cert_days:
            problems.append("the certificate %s serves expires in %d days (under %d)" % (host, days, min_cert_days))
        if host in (cert_differs or {}):
            problems.append("%s serves the certificate with serial %s, not the one in its certificate file (serial %s): "
                            "the unit names another file, or the file was replaced since etcd read it"
                            % ((host,) + tuple(cert_differs[host])))
    for host in hosts:
        if host in unreachable:
            problems.append("could not ask from %s: %s" % (host, unreachable[host]))
    if statuses and not leader_ids:
        problems.append("no member has a leader")
    elif len(leader_ids) > 1:
        problems.append("members follow different leaders: %s" % ", ".join(sorted(leader_ids)))
    for member_id, alarm in alarms:
        problems.append("alarm %s on member %s" % (alarm, member_id))
    if not members and askers:
        problems.append("no member could list the members (no quorum?)")
    lines = ["Members as they answer (asked from %s):" % (", ".join(askers) or "nowhere: no member could be asked")]
    lines += table(["MEMBER", "ID", "VERSION", "LEADER", "LEARNER", "RAFT TERM", "RAFT INDEX",
                    "DB SIZE (QUOTA)", "ALARMS", "CERT DAYS", "STATE"], rows)
    lines += ["", "Member list:"]
    if members:
        lines += table(["ID", "NAME", "PEER URLS", "CLIENT URLS", "LEARNER", "STARTED"],
                       [[m["id"], m.get("name") or "(unstarted)", ",".join(m.get("peer_urls") or []),
                         ",".join(m.get("client_urls") or []) or "-", "yes" if m.get("is_learner") else "no",
                         "yes" if m.get("started") else "no"] for m in members])
    else:
        lines.append("(no member answered the member list)")
    lines += ["", "Problems:" if problems else "No problem found."] + ["- " + p for p in problems]
    return {"lines": lines, "healthy": not problems, "problems": problems}
