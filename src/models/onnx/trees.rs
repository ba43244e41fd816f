//! Tree ensembles before tract sees them: [`check_trees`] refuses attributes that do
//! not describe trees (tract indexes with them unchecked), and [`rewrite`] turns a
//! `TreeEnsembleRegressor`, which tract lacks, into the
//! `TreeEnsembleClassifier` it has: the same trees, with the leaves' target weights as
//! the weights of one class. tract answers a one-class ensemble as the two columns
//! `[1 - s, s]`, so a `Slice` of column 1 gives the regression value `s` (the sum of the
//! reached leaves plus `base_values`). An `AVERAGE` ensemble (a random forest) becomes
//! a sum of weights divided by the number of trees, which is the same number.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

/// The classifier node and the `Slice` after it, and the slice's bounds as initializers.
pub fn rewrite(
    node: &pb::NodeProto,
    index: usize,
) -> Result<(Vec<pb::NodeProto>, Vec<pb::TensorProto>), String> {
    let refuse = |why: &str| {
        Err(format!(
            "TreeEnsembleRegressor node {index} ('{}'): {why}",
            node.name
        ))
    };
    let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
        return refuse("needs one input and one output");
    };
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    if attr("n_targets").is_some_and(|a| a.i != 1) {
        return refuse("only single-target regressors are served");
    }
    if attr("post_transform").is_some_and(|a| !a.s.is_empty() && a.s != b"NONE") {
        return refuse("only post_transform NONE is supported for regressors");
    }
    if attr("nodes_values").is_none() {
        return refuse(
            "its thresholds are given only as tensors (ai.onnx.ml opset 3 \
             `*_as_tensor` attributes), which are not supported yet",
        );
    }
    let average = match attr("aggregate_function").map(|a| a.s.as_slice()) {
        None | Some(b"SUM") => false,
        Some(b"AVERAGE") => true,
        Some(other) => {
            let other = String::from_utf8_lossy(other).into_owned();
            return refuse(&format!("aggregate_function {other} is not supported yet"));
        }
    };
    let trees = attr("nodes_treeids").map_or(0, |a| {
        let distinct: std::collections::BTreeSet<i64> = a.ints.iter().copied().collect();
        distinct.len()
    });
    if trees == 0 {
        return refuse("it has no trees");
    }
    let p = format!("modeld_tree_regressor{index}");
    let mut attributes = Vec::with_capacity(node.attribute.len() + 1);
    for a in &node.attribute {
        let mut a = a.clone();
        match a.name.as_str() {
            "n_targets" | "aggregate_function" | "post_transform" => continue,
            "target_ids" | "target_nodeids" | "target_treeids" => {
                a.name = a.name.replacen("target_", "class_", 1);
            }
            "target_weights" => {
                a.name = "class_weights".into();
                if average {
                    a.floats.iter_mut().for_each(|w| *w /= trees as f32);
                }
            }
            _ => {}
        }
        attributes.push(a);
    }
    attributes.push(pb::AttributeProto {
        name: "classlabels_int64s".into(),
        r#type: AttributeType::Ints as i32,
        ints: vec![0],
        ..Default::default()
    });
    let classifier = pb::NodeProto {
        name: format!("{p}_trees"),
        domain: node.domain.clone(),
        op_type: "TreeEnsembleClassifier".into(),
        input: vec![x.clone()],
        output: vec![format!("{p}_label"), format!("{p}_scores")],
        attribute: attributes,
        ..Default::default()
    };
    let bound = |name: &str, v: i64| pb::TensorProto {
        name: format!("{p}_{name}"),
        dims: vec![1],
        data_type: DataType::Int64 as i32,
        int64_data: vec![v],
        ..Default::default()
    };
    let slice = pb::NodeProto {
        name: format!("{p}_value"),
        op_type: "Slice".into(),
        input: vec![
            format!("{p}_scores"),
            format!("{p}_start"),
            format!("{p}_end"),
            format!("{p}_axis"),
        ],
        output: vec![y.clone()],
        ..Default::default()
    };
    let inits = vec![bound("start", 1), bound("end", 2), bound("axis", 1)];
    Ok((vec![classifier, slice], inits))
}

/// Refuses a tree ensemble (regressor or classifier) whose attributes do not describe
/// trees: per-node lists of different lengths, or a branch or leaf weight naming a node
/// its tree does not have. tract indexes with these numbers unchecked.
pub fn check_trees(node: &pb::NodeProto, index: usize) -> Result<(), String> {
    let refuse = |why: String| {
        Err(format!(
            "{} node {index} ('{}'): {why}",
            node.op_type, node.name
        ))
    };
    let ints = |name: &str| {
        node.attribute
            .iter()
            .find(|a| a.name == name)
            .map_or(&[][..], |a| a.ints.as_slice())
    };
    let (tree_ids, node_ids) = (ints("nodes_treeids"), ints("nodes_nodeids"));
    let n = tree_ids.len();
    for list in [
        "nodes_nodeids",
        "nodes_featureids",
        "nodes_truenodeids",
        "nodes_falsenodeids",
    ] {
        if ints(list).len() != n {
            return refuse(format!(
                "{list} has {} entries for {n} nodes",
                ints(list).len()
            ));
        }
    }
    let known: HashSet<(i64, i64)> = tree_ids
        .iter()
        .copied()
        .zip(node_ids.iter().copied())
        .collect();
    let modes = node.attribute.iter().find(|a| a.name == "nodes_modes");
    let is_leaf = |i: usize| {
        modes
            .and_then(|m| m.strings.get(i))
            .is_some_and(|m| m.as_slice() == b"LEAF")
    };
    let (trues, falses) = (ints("nodes_truenodeids"), ints("nodes_falsenodeids"));
    // tract walks from each tree's lowest node id until it reaches a leaf, unchecked: a
    // node with two parents, or a root with one, would let a walk revisit a node (a
    // cycle never ends). With at most one parent each and a parentless root, what the
    // walk can reach is a tree.
    let mut parents: HashMap<(i64, i64), usize> = HashMap::new();
    for i in (0..n).filter(|&i| !is_leaf(i)) {
        for child in [trues.get(i), falses.get(i)].into_iter().flatten() {
            if let Some(tree) = tree_ids.get(i) {
                if !known.contains(&(*tree, *child)) {
                    return refuse(format!(
                        "node {i} branches to node {child}, not in tree {tree}"
                    ));
                }
                let count = parents.entry((*tree, *child)).or_default();
                *count += 1;
                if *count > 1 {
                    return refuse(format!("node {child} of tree {tree} has two parents"));
                }
            }
        }
    }
    let mut roots: HashMap<i64, i64> = HashMap::new();
    for (tree, id) in tree_ids.iter().zip(node_ids) {
        let root = roots.entry(*tree).or_insert(*id);
        *root = (*root).min(*id);
    }
    if let Some((tree, root)) = roots
        .iter()
        .find(|(t, r)| parents.contains_key(&(**t, **r)))
    {
        return refuse(format!(
            "the root (node {root}) of tree {tree} is also a child"
        ));
    }
    let prefix = if node.op_type == "TreeEnsembleRegressor" {
        "target"
    } else {
        "class"
    };
    let (leaf_trees, leaf_nodes) = (
        ints(&format!("{prefix}_treeids")),
        ints(&format!("{prefix}_nodeids")),
    );
    if leaf_trees.len() != leaf_nodes.len() {
        return refuse(format!(
            "{prefix}_treeids and {prefix}_nodeids differ in length"
        ));
    }
    if let Some((tree, leaf)) = leaf_trees
        .iter()
        .zip(leaf_nodes)
        .find(|(tree, leaf)| !known.contains(&(**tree, **leaf)))
    {
        return refuse(format!("a weight names node {leaf}, not in tree {tree}"));
    }
    // A leaf adds its weight to output column `{prefix}_ids`, which tract does not check.
    let columns = if node.op_type == "TreeEnsembleRegressor" {
        node.attribute
            .iter()
            .find(|a| a.name == "n_targets")
            .map_or(1, |a| a.i)
    } else {
        let labels = |name: &str| node.attribute.iter().find(|a| a.name == name);
        labels("classlabels_int64s")
            .map(|a| a.ints.len())
            .or_else(|| labels("classlabels_strings").map(|a| a.strings.len()))
            .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX))
    };
    if let Some(id) = ints(&format!("{prefix}_ids"))
        .iter()
        .find(|id| !(0..columns).contains(*id))
    {
        return refuse(format!(
            "a weight goes to output {id}, outside 0..{columns}"
        ));
    }
    Ok(())
}
