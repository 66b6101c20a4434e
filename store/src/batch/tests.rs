use super::*;

fn limits(max_ops: usize, max_bytes: usize) -> TxnLimits {
    TxnLimits { max_ops, max_bytes }
}

fn puts(n: usize, value_len: usize) -> Vec<Atomic> {
    (0..n)
        .map(|i| Atomic::new().put(format!("/k/{i:05}"), vec![b'x'; value_len]))
        .collect()
}

#[test]
fn splits_on_op_count() {
    let units = puts(300, 10);
    let chunks = plan_chunks(&units, limits(128, 1 << 20)).expect("plan");
    assert_eq!(chunks, vec![0..128, 128..256, 256..300]);
}

#[test]
fn splits_on_bytes() {
    // Each unit: 8-byte key + 1000-byte value + overhead.
    let units = puts(10, 1000);
    let per_unit = units[0].size();
    assert_eq!(per_unit, 8 + 1000 + OP_OVERHEAD);
    let max = ENVELOPE_BYTES + 3 * per_unit;
    let chunks = plan_chunks(&units, limits(128, max)).expect("plan");
    assert_eq!(chunks, vec![0..3, 3..6, 6..9, 9..10]);
}

#[test]
fn never_splits_a_unit_and_counts_all_its_ops() {
    let big = (0..5).fold(Atomic::new(), |u, i| u.put(format!("/g/{i}"), vec![]));
    let units = vec![
        Atomic::new().put("/a", vec![]),
        Atomic::new().put("/b", vec![]),
        big,
        Atomic::new().put("/c", vec![]),
    ];
    let chunks = plan_chunks(&units, limits(6, 1 << 20)).expect("plan");
    assert_eq!(chunks, vec![0..2, 2..4]);
}

#[test]
fn guards_count_separately_from_ops() {
    let units: Vec<Atomic> = (0..4)
        .map(|i| {
            let k = format!("/k/{i}");
            Atomic::new()
                .guard(&k, Guard::Absent)
                .guard(format!("/other/{i}"), Guard::Revision(3))
                .put(k, vec![])
        })
        .collect();
    // 2 guards per unit: 3 units would need 6 compares > 5.
    let chunks = plan_chunks(&units, limits(5, 1 << 20)).expect("plan");
    assert_eq!(chunks, vec![0..2, 2..4]);
}

#[test]
fn same_key_twice_goes_to_a_later_txn() {
    let units = vec![
        Atomic::new().put("/a", b"1".to_vec()),
        Atomic::new().delete("/a"),
        Atomic::new().put("/b", vec![]),
        // Guards /b, written by the previous unit: must see that write.
        Atomic::new().guard("/b", Guard::Absent).put("/c", vec![]),
        Atomic::new().put("/d", vec![]),
    ];
    let chunks = plan_chunks(&units, limits(128, 1 << 20)).expect("plan");
    assert_eq!(chunks, vec![0..1, 1..3, 3..5]);
}

#[test]
fn an_oversized_unit_is_an_error_naming_it() {
    let mut units = puts(2, 10);
    units.push(Atomic::new().put("/huge", vec![0; 4096]));
    match plan_chunks(&units, limits(128, 2048)) {
        Err(StoreError::BatchUnitTooLarge {
            index, key, ops, ..
        }) => assert_eq!((index, key.as_str(), ops), (2, "/huge", 1)),
        other => panic!("expected BatchUnitTooLarge, got {other:?}"),
    }
}

#[test]
fn empty_batch_has_no_txns() {
    assert!(plan_chunks(&[], limits(128, 1 << 20))
        .expect("plan")
        .is_empty());
}

#[test]
fn guard_evaluation_matches_etcd_semantics() {
    let kv = Kv {
        key: "/a".into(),
        value: vec![],
        mod_revision: 5,
        create_revision: 2,
        lease: 0,
    };
    assert!(guard_holds(Guard::Absent, None));
    assert!(!guard_holds(Guard::Absent, Some(&kv)));
    assert!(guard_holds(Guard::Revision(5), Some(&kv)));
    assert!(!guard_holds(Guard::Revision(4), Some(&kv)));
    assert!(!guard_holds(Guard::Revision(5), None));
    let unit = Atomic::new()
        .guard("/a", Guard::Revision(4))
        .put("/a", vec![]);
    match broken_guard(&unit, std::slice::from_ref(&kv)) {
        Some(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (4, Some(5))),
        other => panic!("expected conflict, got {other:?}"),
    }
}

#[test]
fn a_guard_shared_by_every_unit_counts_once_per_transaction() {
    // Each unit: the same fence guard, its own guard, one put. Without
    // sharing, 4 units would need 8 compares; with it, 5.
    let units: Vec<Atomic> = (0..8)
        .map(|i| {
            Atomic::new()
                .guard("/fence", Guard::Revision(7))
                .guard(format!("/k{i}"), Guard::Absent)
                .put(format!("/k{i}"), vec![])
        })
        .collect();
    let chunks = plan_chunks(&units, limits(5, 1 << 20)).expect("plan");
    assert_eq!(chunks, vec![0..4, 4..8]);
}
