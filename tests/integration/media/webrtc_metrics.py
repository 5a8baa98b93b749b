#!/usr/bin/env python3
"""poprelay-exporter's ICE and DTLS-SRTP families against the dataplane's telemetry.

  webrtc_metrics.py SCRAPE TEL_BEFORE TEL_AFTER METRICS_MD

SCRAPE is a GET /metrics body, TEL_* are dp_telemetry.py answers to /poprelay/media/stats
read just before and just after the scrape (a counter may move in between: the metric
must lie between the two). Every sample below must be there with its value (the process's
own figures only while dtls_process_attached is 1, and absent otherwise), every family
of these prefixes in the scrape must be one of them and named in docs/metrics.md. Exit 0,
or 1 with what differs."""
import json
import re
import sys

M = {
    "poprelay_media_ice_legs": "legs_ice",
    'poprelay_media_ice_checks_total{verdict="answered"}': "ice_answered",
    'poprelay_media_ice_checks_total{verdict="role_conflict"}': "ice_role_conflict",
    'poprelay_media_ice_checks_total{verdict="bad_integrity"}': "ice_bad_integrity",
    'poprelay_media_ice_checks_total{verdict="unknown_ufrag"}': "ice_unknown_ufrag",
    'poprelay_media_ice_checks_total{verdict="malformed"}': "ice_malformed",
    'poprelay_media_ice_checks_total{verdict="not_request"}': "ice_not_request",
    "poprelay_media_ice_nominations_total": "ice_nominations",
    'poprelay_media_ice_dropped_packets_total{reason="rate_limited"}': "ice_rate_limited",
    'poprelay_media_ice_dropped_packets_total{reason="unnominated"}': "ice_unnominated",
    'poprelay_media_dtls_dropped_packets_total{reason="not_admitted"}': "dtls_dropped",
    'poprelay_media_dtls_dropped_packets_total{reason="unkeyed"}': "dtls_unkeyed_dropped",
    'poprelay_media_dtls_legs_keyed_total{source="handshake"}': "dtls_keyed",
    'poprelay_media_dtls_legs_keyed_total{source="restart"}': "dtls_keys_restored",
    'poprelay_media_dtls_legs_keyed_total{source="update"}': "dtls_keys_kept",
    "poprelay_media_dtls_legs_failed_total": "dtls_legs_failed",
    "poprelay_media_dtls_unknown_leg_total": "dtls_unknown_leg",
    "poprelay_media_dtls_process_attached": "dtls_process_attached",
    "poprelay_media_dtls_process_attaches_total": "dtls_process_attaches",
    'poprelay_media_dtls_records_total{direction="to_process"}': "dtls_to_process",
    'poprelay_media_dtls_records_total{direction="from_process"}': "dtls_from_process",
    'poprelay_media_dtls_channel_dropped_total{reason="to_process_undelivered"}':
        "dtls_to_process_dropped",
    'poprelay_media_dtls_channel_dropped_total{reason="bad_record"}': "dtls_bad_records",
}
PROC = {
    "poprelay_dtls_handshakes_started_total": "dtls_handshakes_started",
    "poprelay_dtls_handshakes_completed_total": "dtls_handshakes_completed",
    "poprelay_dtls_handshakes_in_progress": "dtls_handshakes_in_progress",
    'poprelay_dtls_handshakes_failed_total{reason="fingerprint"}': "dtls_failed_fingerprint",
    'poprelay_dtls_handshakes_failed_total{reason="timeout"}': "dtls_failed_timeout",
    'poprelay_dtls_handshakes_failed_total{reason="alert"}': "dtls_failed_alert",
    'poprelay_dtls_handshakes_failed_total{reason="no_srtp"}': "dtls_failed_no_srtp",
    'poprelay_dtls_handshakes_failed_total{reason="busy"}': "dtls_failed_busy",
    'poprelay_dtls_handshakes_failed_total{reason="cert"}': "dtls_failed_cert",
    "poprelay_dtls_rate_limited_total": "dtls_rate_limited",
}


def tel(path):
    x = json.load(open(path))
    return x.get("/poprelay/media/stats", x)


def main():
    scrape, before, after, docs = sys.argv[1:5]
    t0, t1 = tel(before), tel(after)
    samples, families = {}, set()
    for line in open(scrape):
        m = re.match(r"# TYPE (\S+) ", line)
        if m:
            families.add(m.group(1))
        elif line.strip() and not line.startswith("#"):
            name, _, v = line.rstrip("\n").rpartition(" ")
            samples[name] = v
    bad = []
    attached = t0["dtls_process_attached"] == 1 and t1["dtls_process_attached"] == 1
    want = dict(M, **PROC) if attached else M
    for metric, field in want.items():
        lo, hi = sorted((t0[field], t1[field]))
        v = samples.get(metric)
        if v is None or not re.fullmatch(r"\d+", v) or not lo <= int(v) <= hi:
            bad.append(f"{metric} = {v}, telemetry {field} = {t0[field]}..{t1[field]}")
    if not attached:
        bad += [f"{m} shown while no poprelay-dtls is attached" for m in PROC if m in samples]
    mine = {re.sub(r"\{.*", "", k) for k in list(M) + list(PROC)}
    text = open(docs).read()
    for f in families:
        if f.startswith(("poprelay_media_ice_", "poprelay_media_dtls_", "poprelay_dtls_")):
            if f not in mine:
                bad.append(f"{f}: a family this check does not know")
            if f"`{f}`" not in text:
                bad.append(f"{f} is not in docs/metrics.md")
    for b in bad:
        print("webrtc_metrics:", b)
    print("webrtc_metrics: %d samples checked%s" % (len(want), "" if attached else
                                                     " (no process attached)"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
