//! The parallel fast path and the general CSV parser agree: on every text the fast path
//! accepts, the same dataset; on every other, it steps aside.

use proptest::prelude::*;

use crate::models::Task;
use crate::train::parse::parse_any_csv;
use crate::train::plain_csv::parse_plain_csv;

fn both(
    text: &str,
    task: Task,
) -> (
    Option<crate::train::Dataset>,
    Result<crate::train::Dataset, String>,
) {
    let fast = parse_plain_csv(text, "y", None, task, 0);
    let general = parse_any_csv(text, "y", None, task).map_err(|e| e.to_string());
    (fast, general)
}

fn assert_agree(text: &str, task: Task) -> bool {
    let (fast, general) = both(text, task);
    match (fast, general) {
        (Some(f), Ok(g)) => {
            assert_eq!(f.x, g.x, "{text:?}");
            assert_eq!(f.y, g.y, "{text:?}");
            assert_eq!(f.feature_names, g.feature_names);
            assert_eq!(f.classes, g.classes);
            true
        }
        (Some(_), Err(e)) => {
            panic!("fast path accepted what the general parser refuses ({e}): {text:?}")
        }
        (None, _) => false,
    }
}

#[test]
fn plain_numeric_files_take_the_fast_path_with_identical_values() {
    let text = "a, b ,y\r\n0.1,2e-3,1\n\n-4.000000000000001, 5 ,0\r\n1.7976931348623157e308,-0,1";
    assert!(assert_agree(text, Task::Regression));
    assert!(assert_agree(text, Task::Classification));
    let labels = "a,y\n1,setosa\n2, virginica\n3,setosa\n";
    assert!(assert_agree(labels, Task::Classification));
}

#[test]
fn anything_unusual_goes_to_the_general_parser() {
    for text in [
        "a,y\n\"1\",2\n",  // quotes
        "a,y\n1,2\r3,4\n", // a lone \r ends a record there
        "a,y\n1,2\n3\n",   // ragged
        "a,y\n1,2,3\n",    // ragged the other way
        "a,y\n1,\n",       // missing target
        "a,y\nx,2\n",      // not a number
        "a,y\nNaN,2\n",    // not finite
        "a,y\n1,inf\n",    // a non-finite target
        "a,y\n",           // no rows
        "a,a,y\n1,2,3\n",  // duplicate names
        "a,b\n1,2\n",      // no target column
    ] {
        assert!(!assert_agree(text, Task::Regression), "{text:?}");
    }
    assert!(!assert_agree("a,y\n1,x\n", Task::Regression));
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|v| format!("{v}")),
        any::<f64>().prop_map(|v| format!("{v:e}")),
        (-1000i32..1000).prop_map(|v| v.to_string()),
        // Plain decimals around the 15-digit bound of the fast number reader.
        (any::<i64>(), 0u32..19, any::<bool>()).prop_map(|(m, point, plus)| {
            let digits = m.unsigned_abs().to_string();
            let point = (point as usize).min(digits.len());
            let sign = if m < 0 {
                "-"
            } else if plus {
                "+"
            } else {
                ""
            };
            format!("{sign}{}.{}", &digits[..point], &digits[point..])
        }),
        Just("-.5".to_string()),
        Just("1.".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        Just(" 1.5 ".to_string()),
        Just("abc".to_string()),
        Just("\"2\"".to_string()),
    ]
}

fn line_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("\n"),
        Just("\r\n"),
        Just("\n\n"),
        Just("\r"),
        Just("\n \n")
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn the_fast_path_never_disagrees(
        rows in proptest::collection::vec((proptest::collection::vec(cell(), 1..4), line_end()), 1..12),
        classification in any::<bool>(),
    ) {
        let mut text = String::from("a,b,y\n");
        for (cells, end) in rows {
            text.push_str(&cells.join(","));
            text.push_str(end);
        }
        let task = if classification { Task::Classification } else { Task::Regression };
        assert_agree(&text, task);
    }
}
