//! String class labels (a classifier trained on `["no", "yes"]` or on species names) as
//! modeld serves every classifier: the graph answers class indices and the schema names
//! the classes. Every `classlabels_strings` list becomes the integer list `0..K` under
//! the op's integer attribute, a string class table that an `ArrayFeatureExtractor` reads
//! labels from becomes `0..K` in int64, string-typed outputs become int64, and the names
//! go to the `modeld.classes` metadata the loader reads class names from. onnxruntime's
//! label `classes[k]` is then modeld's prediction `k`, named `classes[k]`.

use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

/// The ops whose integer labels attribute is `classlabels_int64s` (the others, the linear
/// and SVM classifiers, call it `classlabels_ints`).
const INT64S_OPS: [&str; 2] = ["TreeEnsembleClassifier", "ZipMap"];

/// Rewrites string labels to indices; a graph without any is left as it is.
pub fn index_string_labels(model: &mut pb::ModelProto) -> Result<(), String> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(());
    };
    let mut names: Option<Vec<String>> = None;
    let mut agree = |found: Vec<String>, what: &str| match &names {
        Some(n) if *n != found => Err(format!(
            "{what} lists the classes {found:?}, another node {n:?}; modeld serves one class list"
        )),
        Some(_) => Ok(()),
        None => {
            names = Some(found);
            Ok(())
        }
    };
    for (i, node) in graph.node.iter_mut().enumerate() {
        let int_name = if INT64S_OPS.contains(&node.op_type.as_str()) {
            "classlabels_int64s"
        } else {
            "classlabels_ints"
        };
        for a in node.attribute.iter_mut() {
            if a.name == "classlabels_strings" && !a.strings.is_empty() {
                agree(utf8(&a.strings), &format!("{} node {i}", node.op_type))?;
                *a = indices_attribute(int_name, a.strings.len())?;
            }
        }
        if node.op_type == "Constant" {
            for a in node.attribute.iter_mut().filter(|a| a.name == "value") {
                if let Some(t) = a.t.as_mut().filter(|t| is_string(t)) {
                    agree(utf8(&t.string_data), &format!("Constant node {i}"))?;
                    *t = indices_tensor(std::mem::take(t))?;
                }
            }
        }
    }
    let tables: Vec<String> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "ArrayFeatureExtractor")
        .filter_map(|n| n.input.first().cloned())
        .collect();
    for t in graph.initializer.iter_mut() {
        if is_string(t) && tables.contains(&t.name) {
            agree(utf8(&t.string_data), &format!("class table '{}'", t.name))?;
            *t = indices_tensor(std::mem::take(t))?;
        }
    }
    let Some(names) = names else {
        return Ok(());
    };
    for info in graph.output.iter_mut().chain(graph.value_info.iter_mut()) {
        if let Some(pb::type_proto::Value::TensorType(t)) =
            info.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            if t.elem_type == DataType::String as i32 {
                t.elem_type = DataType::Int64 as i32;
            }
        }
    }
    let value = serde_json::to_string(&names).map_err(|e| e.to_string())?;
    model.metadata_props.insert(
        0,
        pb::StringStringEntryProto {
            key: super::export::META_CLASSES.into(),
            value,
        },
    );
    Ok(())
}

fn utf8(strings: &[Vec<u8>]) -> Vec<String> {
    strings
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn is_string(t: &pb::TensorProto) -> bool {
    t.data_type == DataType::String as i32
}

fn indices(k: usize) -> Result<Vec<i64>, String> {
    (0..k)
        .map(|i| i64::try_from(i).map_err(|_| "too many classes".to_string()))
        .collect()
}

fn indices_attribute(name: &str, k: usize) -> Result<pb::AttributeProto, String> {
    Ok(pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: indices(k)?,
        ..Default::default()
    })
}

/// The same name and dims, the class indices in place of the strings.
fn indices_tensor(t: pb::TensorProto) -> Result<pb::TensorProto, String> {
    Ok(pb::TensorProto {
        int64_data: indices(t.string_data.len())?,
        data_type: DataType::Int64 as i32,
        dims: t.dims,
        name: t.name,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(name: &str, values: &[&str]) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            r#type: AttributeType::Strings as i32,
            strings: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            ..Default::default()
        }
    }

    fn model(nodes: Vec<pb::NodeProto>) -> pb::ModelProto {
        pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: nodes,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(op: &str, labels: &[&str]) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            attribute: vec![strings("classlabels_strings", labels)],
            ..Default::default()
        }
    }

    #[test]
    fn string_labels_become_indices_and_class_names() {
        let mut m = model(vec![
            node("TreeEnsembleClassifier", &["no", "yes"]),
            node("ZipMap", &["no", "yes"]),
        ]);
        index_string_labels(&mut m).unwrap();
        let g = m.graph.as_ref().unwrap();
        for n in &g.node {
            let a = &n.attribute[0];
            assert_eq!(
                (a.name.as_str(), a.ints.as_slice()),
                ("classlabels_int64s", &[0, 1][..])
            );
        }
        assert_eq!(
            m.metadata_props[0].key,
            crate::models::onnx::export::META_CLASSES
        );
        assert_eq!(m.metadata_props[0].value, r#"["no","yes"]"#);
    }

    #[test]
    fn two_different_class_lists_are_refused() {
        let mut m = model(vec![
            node("LinearClassifier", &["a", "b"]),
            node("ZipMap", &["a", "c"]),
        ]);
        let e = index_string_labels(&mut m).unwrap_err();
        assert!(e.contains("ZipMap node 1") && e.contains("\"c\""), "{e}");
    }

    #[test]
    fn a_graph_without_string_labels_is_unchanged() {
        let mut m = model(vec![pb::NodeProto {
            op_type: "LinearClassifier".into(),
            ..Default::default()
        }]);
        let before = m.clone();
        index_string_labels(&mut m).unwrap();
        assert_eq!(m, before);
    }
}
