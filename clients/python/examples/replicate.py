"""Configure a scope on A, make A and B failover partners, change the
scope, dry-run, replicate, and read both sides.

    python3 replicate.py URL_A URL_B     (two fresh frepd, e.g. ipc:// URLs)
"""
import sys

import frep

url_a, url_b = sys.argv[1], sys.argv[2]
SCOPE = "10.1.0.0"

with frep.Client(url_a) as a, frep.Client(url_b) as b:
    # Both servers may still be starting (just launched in the background):
    # the first call waits for each to answer; later calls fail fast.
    for c in (a, b):
        c.health.check(wait_for_ready=True)

    # A scope on A, with an exclusion, a reservation, an option and a policy.
    a.add_scope(scope_id=SCOPE, subnet_mask="255.255.255.0", name="Office",
                start_range="10.1.0.10", end_range="10.1.0.200")
    a.add_exclusion_range(scope_id=SCOPE, start_range="10.1.0.50", end_range="10.1.0.60")
    a.add_reservation(scope_id=SCOPE, ip_address="10.1.0.20",
                      client_id="00-11-22-33-44-55", name="printer")
    a.set_option_value(target={"scope_id": SCOPE},
                       value={"option_id": 3, "values": ["10.1.0.1"]})  # router
    a.add_policy(scope_id=SCOPE, name="bootp", lease_duration_s=3600,
                 criteria=[{"type": "CRITERION_TYPE_USER_CLASS", "comparator": "COMPARATOR_EQ",
                            "values": ["Default BOOTP Class"]}],
                 ip_ranges=[{"start_range": "10.1.0.100", "end_range": "10.1.0.120"}])

    # The relationship A -> B: B gets its mirror and a first copy of the scope.
    # Replicated by hand here (auto_sync, on by default, would send each
    # change by itself, racing the dry run below).
    rel = a.add_failover(relationship={
        "name": "rel1", "partner_server": url_b, "mode": "FAILOVER_MODE_LOAD_BALANCE",
        "load_balance_percent": 60, "shared_secret": "correct horse battery staple",
        "scope_ids": [SCOPE], "auto_sync": "AUTO_SYNC_OFF"})
    print("relationship", rel.name, "->", rel.partner_server)

    # Change the scope on A.
    a.add_reservation(scope_id=SCOPE, ip_address="10.1.0.21",
                      client_id="00-11-22-33-44-66", name="laptop")
    a.set_scope(scope={"scope_id": SCOPE, "name": "Office (2nd floor)"}, update_mask=["name"])

    # Dry run (-WhatIf): B computes its diff and changes nothing.
    before = b.get_scope_config(SCOPE).digest
    plan = a.replicate_by_name(["rel1"], dry_run=True)
    for r in plan.results:
        for d in r.diff:
            print("would", frep.pb.DiffAction.Name(d.action), d.kind, d.key)
    assert b.get_scope_config(SCOPE).digest == before

    # Replicate for real.
    done = a.replicate_by_name(["rel1"])
    for r in done.results:
        print(r.scope_id, frep.code_name(r.code), "reservations added:",
              r.changes.reservations.added)

    # Both sides now hold the same scope.
    da, db = a.get_scope_config(SCOPE).digest, b.get_scope_config(SCOPE).digest
    print("digest A", da)
    print("digest B", db)
    assert da == db
    print("on B:", b.get_scope(SCOPE).name,
          [r.name for r in b.list_reservations(SCOPE).reservations])

    # Errors are FrepError with the status code and the server's message.
    try:
        b.get_scope("10.99.0.0")
    except frep.FrepError as e:
        print(e.name, "-", e.message)
