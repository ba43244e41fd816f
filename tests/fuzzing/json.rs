//! Mutations of a valid JSON document: one node replaced by a hostile value, removed,
//! duplicated or grown, or a key added.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

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
