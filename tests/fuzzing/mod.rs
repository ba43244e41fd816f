//! Shared pieces of the property-based fuzz targets (tests/fuzz_*.rs): the case count
//! (`PROPTEST_CASES` or a per-target default small enough for plain `cargo test`), and
//! mutators that take a valid input and change one part of it, so the cases get past
//! the first syntax check into the code behind it.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

/// `PROPTEST_CASES` when set (scripts/fuzz.sh), else `default`. Failures are saved in
/// proptest-regressions/<target>.txt and replayed first on every later run.
pub fn config(default: u32, target: &str) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // One file per target (cargo runs tests from the package root); leaked once
        // per target because proptest wants a `&'static str`.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
            format!("proptest-regressions/{target}.txt").into_boxed_str(),
        )))),
        // Shrinking a slow target (the ONNX loader, the HTTP stack) must stay bounded.
        max_shrink_iters: 512,
        ..Config::default()
    }
}

/// Runs `test` on `strategy` for the configured number of cases and prints how many
/// inputs the target ran (scripts/fuzz.sh collects the line); a failure panics with
/// proptest's minimal input after saving it under proptest-regressions/.
pub fn check<S: Strategy>(
    target: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let ran = std::cell::Cell::new(0u64);
    let mut runner = TestRunner::new(config(default_cases, target));
    let result = runner.run(&strategy, |v| {
        ran.set(ran.get() + 1);
        test(v)
    });
    println!("fuzz target {target}: {} cases run", ran.get());
    if let Err(e) = result {
        panic!("fuzz target {target}: {e}");
    }
}

// ---------------------------------------------------------------- JSON mutations

/// Values that stress decoders: wrong types, boundaries of every integer width, floats
/// JSON cannot round-trip into the target type, and sizes just past the usual limits.
pub fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(json!(0)),
            Just(json!(-1)),
            Just(json!(1)),
            Just(json!(2)),
            Just(json!(i32::MAX as i64 + 1)),
            Just(json!(i32::MIN as i64 - 1)),
            Just(json!(u32::MAX)),
            Just(json!(i64::MAX)),
            Just(json!(i64::MIN)),
            Just(json!(u64::MAX)),
            Just(json!(1u64 << 53)),
            Just(json!(1e308)),
            Just(json!(-1e308)),
            Just(json!(3.5e38)),
            Just(json!(0.5)),
            Just(json!(-0.0)),
            Just(json!(f64::MIN_POSITIVE)),
        ],
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just(json!("FP32")),
            Just(json!("FP64")),
            Just(json!("INT32")),
            Just(json!("INT64")),
            Just(json!("BYTES")),
            Just(json!("fp32")),
            Just(json!("input")),
            Just(json!("production")),
        ],
        Just(json!([])),
        Just(json!({})),
        Just(json!([[]])),
        Just(json!([null])),
        Just(json!({"": 1})),
        prop::collection::vec(any::<i32>().prop_map(|n| json!(n)), 0..40).prop_map(Value::Array),
        (1usize..120).prop_map(nested),
    ]
}

/// `depth` arrays nested around one number.
pub fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |v, _| Value::Array(vec![v]))
}

/// One change to a JSON document, applied to the node `at` (a pre-order index taken
/// modulo the node count).
#[derive(Debug, Clone)]
pub enum JsonEdit {
    Replace {
        at: usize,
        with: Value,
    },
    Remove {
        at: usize,
    },
    AddKey {
        at: usize,
        key: String,
        with: Value,
    },
    Duplicate {
        at: usize,
    },
    /// Repeats the node's content `times` times (a longer array, a longer string).
    Grow {
        at: usize,
        times: usize,
    },
}

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let at = any::<usize>();
    prop_oneof![
        4 => (at, hostile_value()).prop_map(|(at, with)| JsonEdit::Replace { at, with }),
        1 => at.prop_map(|at| JsonEdit::Remove { at }),
        1 => (at, "[a-z_]{0,10}", hostile_value())
            .prop_map(|(at, key, with)| JsonEdit::AddKey { at, key, with }),
        1 => at.prop_map(|at| JsonEdit::Duplicate { at }),
        1 => (at, 2usize..64).prop_map(|(at, times)| JsonEdit::Grow { at, times }),
    ]
}

/// A valid document with one to three edits.
pub fn mutated_json(base: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec(json_edit(), 1..4).prop_map(move |edits| {
        let mut doc = base.clone();
        for e in &edits {
            apply(&mut doc, e);
        }
        doc
    })
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The node at pre-order index `i`.
fn node_mut(v: &mut Value, i: usize) -> Option<&mut Value> {
    fn walk<'a>(v: &'a mut Value, i: &mut usize) -> Option<&'a mut Value> {
        if *i == 0 {
            return Some(v);
        }
        *i -= 1;
        match v {
            Value::Array(a) => a.iter_mut().find_map(|c| walk(c, i)),
            Value::Object(o) => o.values_mut().find_map(|c| walk(c, i)),
            _ => None,
        }
    }
    let mut i = i;
    walk(v, &mut i)
}

/// Removes the child at pre-order index `i` (> 0) from its parent.
fn remove_at(v: &mut Value, i: usize) {
    fn walk(v: &mut Value, i: &mut usize) -> bool {
        match v {
            Value::Array(a) => {
                for k in 0..a.len() {
                    if *i == 0 {
                        a.remove(k);
                        return true;
                    }
                    *i -= 1;
                    if walk(&mut a[k], i) {
                        return true;
                    }
                }
                false
            }
            Value::Object(o) => {
                let keys: Vec<String> = o.keys().cloned().collect();
                for k in keys {
                    if *i == 0 {
                        o.remove(&k);
                        return true;
                    }
                    *i -= 1;
                    if o.get_mut(&k).is_some_and(|c| walk(c, i)) {
                        return true;
                    }
                }
                false
            }
            _ => false,
        }
    }
    let mut i = i;
    walk(v, &mut i);
}

pub fn apply(doc: &mut Value, edit: &JsonEdit) {
    let n = count(doc);
    match edit {
        JsonEdit::Replace { at, with } => {
            if let Some(node) = node_mut(doc, at % n) {
                *node = with.clone();
            }
        }
        JsonEdit::Remove { at } => {
            if n > 1 {
                remove_at(doc, 1 + at % (n - 1));
            }
        }
        JsonEdit::AddKey { at, key, with } => {
            if let Some(Value::Object(o)) = node_mut(doc, at % n) {
                o.insert(key.clone(), with.clone());
            } else if let Some(Value::Array(a)) = node_mut(doc, at % n) {
                a.push(with.clone());
            }
        }
        JsonEdit::Duplicate { at } => {
            if let Some(Value::Array(a)) = node_mut(doc, at % n) {
                if let Some(first) = a.first().cloned() {
                    a.push(first);
                }
            }
        }
        JsonEdit::Grow { at, times } => match node_mut(doc, at % n) {
            Some(Value::Array(a)) if !a.is_empty() => {
                let copy = a.clone();
                for _ in 1..*times {
                    a.extend(copy.iter().cloned());
                }
            }
            Some(Value::String(s)) => *s = s.repeat(*times),
            _ => {}
        },
    }
}

/// An object with the given fields, for building base documents.
pub fn object(fields: &[(&str, Value)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

// ---------------------------------------------------------------- byte mutations

/// Varints found in a protobuf message: field tags, values and length prefixes, with
/// sub-messages walked when their bytes parse as a message.
pub fn proto_varints(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    walk_message(bytes, 0, &mut out, 0);
    out
}

fn read_varint(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for k in 0..10 {
        let b = *bytes.get(at + k)?;
        v |= u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            return Some((v, k + 1));
        }
    }
    None
}

/// Walks `bytes` as a message, pushing (offset, length) of each varint; returns whether
/// the whole slice parsed.
fn walk_message(bytes: &[u8], base: usize, out: &mut Vec<(usize, usize)>, depth: u32) -> bool {
    let mut at = 0;
    let mut found = Vec::new();
    while at < bytes.len() {
        let Some((tag, n)) = read_varint(bytes, at) else {
            return false;
        };
        found.push((base + at, n));
        at += n;
        match tag & 7 {
            0 => {
                let Some((_, n)) = read_varint(bytes, at) else {
                    return false;
                };
                found.push((base + at, n));
                at += n;
            }
            1 => at += 8,
            5 => at += 4,
            2 => {
                let Some((len, n)) = read_varint(bytes, at) else {
                    return false;
                };
                found.push((base + at, n));
                at += n;
                let Some(body) = usize::try_from(len)
                    .ok()
                    .and_then(|len| bytes.get(at..at.checked_add(len)?))
                else {
                    return false;
                };
                if depth < 16 && !body.is_empty() {
                    let mut inner = Vec::new();
                    if walk_message(body, base + at, &mut inner, depth + 1) {
                        found.extend(inner);
                    }
                }
                at += body.len();
            }
            _ => return false,
        }
    }
    out.extend(found);
    at == bytes.len()
}

fn encode_varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// One change to a file's bytes; positions are taken modulo the current length.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        to: u8,
    },
    Truncate {
        at: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    /// Copies `len` bytes from `from` in donor file `donor` over position `at`.
    Splice {
        at: usize,
        donor: usize,
        from: usize,
        len: usize,
    },
    /// Rewrites the `which`-th varint of the protobuf structure (tag, value or length).
    Varint {
        which: usize,
        to: u64,
    },
    /// Adds `delta` to the `which`-th varint, e.g. a length one past its payload.
    Nudge {
        which: usize,
        delta: i8,
    },
}

/// Varint values that hit the boundaries of lengths, counts and dims.
pub fn hostile_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(127),
        Just(128),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(0xffff_ffff),
        Just(1 << 40),
        Just(i64::MAX as u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>(),
        0u64..4096,
    ]
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let at = any::<usize>();
    prop_oneof![
        3 => (at, 0u8..8).prop_map(|(at, bit)| ByteEdit::FlipBit { at, bit }),
        1 => (at, any::<u8>()).prop_map(|(at, to)| ByteEdit::SetByte { at, to }),
        1 => at.prop_map(|at| ByteEdit::Truncate { at }),
        1 => (at, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
        1 => (at, any::<usize>(), any::<usize>(), 1usize..256)
            .prop_map(|(at, donor, from, len)| ByteEdit::Splice { at, donor, from, len }),
        3 => (any::<usize>(), hostile_u64()).prop_map(|(which, to)| ByteEdit::Varint { which, to }),
        2 => (any::<usize>(), any::<i8>()).prop_map(|(which, delta)| ByteEdit::Nudge { which, delta }),
    ]
}

/// Applies `edit` to `bytes`; `donors` are other valid files to splice from.
pub fn apply_bytes(bytes: &mut Vec<u8>, edit: &ByteEdit, donors: &[Vec<u8>]) {
    let len = bytes.len();
    if len == 0 {
        return;
    }
    match edit {
        ByteEdit::FlipBit { at, bit } => bytes[at % len] ^= 1 << bit,
        ByteEdit::SetByte { at, to } => bytes[at % len] = *to,
        ByteEdit::Truncate { at } => bytes.truncate(at % len),
        ByteEdit::Insert { at, bytes: ins } => {
            let at = at % (len + 1);
            bytes.splice(at..at, ins.iter().copied());
        }
        ByteEdit::Splice {
            at,
            donor,
            from,
            len: n,
        } => {
            let Some(d) = donors.get(donor % donors.len().max(1)) else {
                return;
            };
            if d.is_empty() {
                return;
            }
            let from = from % d.len();
            let piece = &d[from..(from + n).min(d.len())];
            let at = at % len;
            let end = (at + piece.len()).min(len);
            bytes.splice(at..end, piece.iter().copied());
        }
        ByteEdit::Varint { which, to } => rewrite_varint(bytes, *which, |_| *to),
        ByteEdit::Nudge { which, delta } => {
            rewrite_varint(bytes, *which, |v| v.wrapping_add_signed(i64::from(*delta)))
        }
    }
}

fn rewrite_varint(bytes: &mut Vec<u8>, which: usize, f: impl Fn(u64) -> u64) {
    let found = proto_varints(bytes);
    if found.is_empty() {
        return;
    }
    let (at, n) = found[which % found.len()];
    let Some((old, _)) = read_varint(bytes, at) else {
        return;
    };
    bytes.splice(at..at + n, encode_varint(f(old)));
}

/// One to four edits.
pub fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    prop::collection::vec(byte_edit(), 1..5)
}

/// `bases[base % len]` with `edits` applied.
pub fn mutate(bases: &[Vec<u8>], base: usize, edits: &[ByteEdit]) -> Vec<u8> {
    let mut bytes = bases[base % bases.len()].clone();
    for e in edits {
        apply_bytes(&mut bytes, e, bases);
    }
    bytes
}
