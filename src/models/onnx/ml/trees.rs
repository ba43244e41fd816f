//! Parsing a `TreeEnsembleRegressor` / `TreeEnsembleClassifier` node into the flat
//! arrays [`super::tree_eval`] walks. Every number the file gives is checked here, so
//! evaluation can trust indices: lists of one length, node ids unique per tree, children
//! in the same tree, every tree a tree (a walk from its root meets no node twice), leaf
//! weights naming existing nodes and output columns in range.

use std::collections::HashMap;

use tract_onnx::pb;

use super::attrs::Attrs;
use super::transform::PostTransform;

/// More output columns than this is not a model modeld serves, and bounds the per-row
/// score buffers.
pub const MAX_COLUMNS: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

impl Mode {
    /// Whether a value goes to the `yes` child.
    pub fn test<T: PartialOrd>(self, v: T, t: T) -> bool {
        match self {
            Mode::Leq => v <= t,
            Mode::Lt => v < t,
            Mode::Gte => v >= t,
            Mode::Gt => v > t,
            Mode::Eq => v == t,
            Mode::Neq => v != t,
            Mode::Leaf => true,
        }
    }

    fn parse(s: &[u8]) -> Option<Self> {
        Some(match s {
            b"BRANCH_LEQ" => Self::Leq,
            b"BRANCH_LT" => Self::Lt,
            b"BRANCH_GTE" => Self::Gte,
            b"BRANCH_GT" => Self::Gt,
            b"BRANCH_EQ" => Self::Eq,
            b"BRANCH_NEQ" => Self::Neq,
            b"LEAF" => Self::Leaf,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub feature: usize,
    pub mode: Mode,
    pub missing_true: bool,
    pub thr32: f32,
    pub thr64: f64,
    pub yes: usize,
    pub no: usize,
    /// The leaf's weights: `weights[w_start..w_start + w_len]`.
    pub w_start: usize,
    pub w_len: usize,
}

/// A node as the walk reads it: 20 bytes with an f32 threshold (24 with f64) against
/// [`Node`]'s 56, so a tree's hot top levels take a third of the cache lines. A leaf's
/// weights are those of the [`Node`] at the same position.
#[derive(Clone, Copy, Debug)]
pub struct Step<T> {
    pub threshold: T,
    pub feature: u32,
    pub yes: u32,
    pub no: u32,
    pub mode: Mode,
    pub missing_true: bool,
}

fn steps<T>(nodes: &[Node], threshold: impl Fn(&Node) -> T) -> Result<Vec<Step<T>>, String> {
    let index = |i: usize| u32::try_from(i).map_err(|_| "too many nodes".to_string());
    nodes
        .iter()
        .map(|n| {
            Ok(Step {
                threshold: threshold(n),
                feature: index(n.feature)?,
                yes: index(n.yes)?,
                no: index(n.no)?,
                mode: n.mode,
                missing_true: n.missing_true,
            })
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Weight {
    pub column: usize,
    pub w32: f32,
    pub w64: f64,
}

/// What a classifier adds to the scores: its labels and onnxruntime's binary cases.
#[derive(Clone, Debug)]
pub struct Classes {
    pub labels: Vec<i64>,
    /// Two classes and every weight for the same one column.
    pub binary: bool,
    pub all_positive: bool,
}

#[derive(Clone, Debug)]
pub struct Ensemble {
    pub nodes: Vec<Node>,
    /// The nodes for walking, in f32 and in f64.
    pub steps32: Vec<Step<f32>>,
    pub steps64: Vec<Step<f64>>,
    pub roots: Vec<usize>,
    pub weights: Vec<Weight>,
    pub columns: usize,
    /// One more than the highest feature a branch reads.
    pub features: usize,
    pub aggregate: Aggregate,
    pub post: PostTransform,
    pub base: Vec<f64>,
    /// Thresholds were given as doubles: compared in f64 even for a float input.
    pub wide: bool,
    pub classes: Option<Classes>,
    /// The comparison every branch node uses, when they all use one.
    pub branch: Option<Mode>,
}

/// Parses the node; the error says what is wrong, the caller says which node.
pub fn parse(node: &pb::NodeProto, classifier: bool) -> Result<Ensemble, String> {
    let a = Attrs(node);
    let (tree_ids, node_ids) = (a.ints("nodes_treeids"), a.ints("nodes_nodeids"));
    let n = node_ids.len();
    if n == 0 {
        return Err("it has no nodes".into());
    }
    let (features, trues, falses) = (
        a.ints("nodes_featureids"),
        a.ints("nodes_truenodeids"),
        a.ints("nodes_falsenodeids"),
    );
    let modes = a.strings("nodes_modes");
    let values = a.reals("nodes_values")?;
    let missing = a.ints("nodes_missing_value_tracks_true");
    for (name, len) in [
        ("nodes_treeids", tree_ids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_truenodeids", trues.len()),
        ("nodes_falsenodeids", falses.len()),
        ("nodes_modes", modes.len()),
        ("nodes_values", values.len()),
    ] {
        if len != n {
            return Err(format!("{name} has {len} entries for {n} nodes"));
        }
    }
    if !missing.is_empty() && missing.len() != n {
        return Err(format!(
            "nodes_missing_value_tracks_true has {} entries for {n} nodes",
            missing.len()
        ));
    }
    let wide = a.floats("nodes_values").is_empty();

    // Node i of the file goes to position `at[i]`, sorted by (tree, node id).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (tree_ids.get(i), node_ids.get(i)));
    let mut position: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    for (p, &i) in order.iter().enumerate() {
        let key = (get(tree_ids, i)?, get(node_ids, i)?);
        if position.insert(key, p).is_some() {
            return Err(format!("node {} of tree {} is listed twice", key.1, key.0));
        }
    }
    let find = |tree: i64, id: i64, from: i64| {
        position.get(&(tree, id)).copied().ok_or_else(|| {
            format!("node {from} of tree {tree} branches to node {id}, not in tree {tree}")
        })
    };

    let mut nodes = Vec::with_capacity(n);
    let mut roots = Vec::new();
    let mut max_feature = None;
    for (p, &i) in order.iter().enumerate() {
        let (tree, id) = (get(tree_ids, i)?, get(node_ids, i)?);
        if p == 0 || order.get(p - 1).and_then(|&j| tree_ids.get(j)) != Some(&tree) {
            roots.push(p);
        }
        let mode_name = modes.get(i).map_or(&[][..], Vec::as_slice);
        let mode = Mode::parse(mode_name).ok_or_else(|| {
            format!(
                "node {id} of tree {tree} has unknown mode '{}'",
                String::from_utf8_lossy(mode_name)
            )
        })?;
        let (mut yes, mut no, mut feature) = (p, p, 0usize);
        if mode != Mode::Leaf {
            yes = find(tree, get(trues, i)?, id)?;
            no = find(tree, get(falses, i)?, id)?;
            feature = usize::try_from(get(features, i)?)
                .ok()
                .filter(|f| *f < u32::MAX as usize)
                .ok_or_else(|| format!("node {id} of tree {tree} reads a negative feature"))?;
            max_feature = max_feature.max(Some(feature));
        }
        let thr64 = values.get(i).copied().unwrap_or_default();
        nodes.push(Node {
            feature,
            mode,
            missing_true: missing.get(i).is_some_and(|m| *m != 0),
            thr32: thr64 as f32,
            thr64,
            yes,
            no,
            w_start: 0,
            w_len: 0,
        });
    }
    check_walks(&nodes, &roots, |p| {
        order.get(p).map_or((0, 0), |&i| {
            (
                tree_ids.get(i).copied().unwrap_or_default(),
                node_ids.get(i).copied().unwrap_or_default(),
            )
        })
    })?;

    let prefix = if classifier { "class" } else { "target" };
    let (columns, classes_labels) = if classifier {
        if !a.strings("classlabels_strings").is_empty() {
            return Err(
                "it has string class labels; modeld serves int64 labels (re-export \
                 with integer classes)"
                    .into(),
            );
        }
        let labels = a.ints("classlabels_int64s").to_vec();
        if labels.len() < 2 {
            return Err(format!(
                "it has {} class labels; at least 2 are needed",
                labels.len()
            ));
        }
        (labels.len(), Some(labels))
    } else {
        let t = a.int("n_targets").unwrap_or(1);
        let t = usize::try_from(t)
            .ok()
            .filter(|t| *t >= 1)
            .ok_or_else(|| format!("n_targets is {t}"))?;
        (t, None)
    };
    if columns > MAX_COLUMNS {
        return Err(format!(
            "it has {columns} outputs, above the limit {MAX_COLUMNS}"
        ));
    }
    let w_trees = a.ints(&format!("{prefix}_treeids"));
    let w_nodes = a.ints(&format!("{prefix}_nodeids"));
    let w_ids = a.ints(&format!("{prefix}_ids"));
    let w_values = a.reals(&format!("{prefix}_weights"))?;
    let m = w_ids.len();
    for (name, len) in [
        ("treeids", w_trees.len()),
        ("nodeids", w_nodes.len()),
        ("weights", w_values.len()),
    ] {
        if len != m {
            return Err(format!("{prefix}_{name} has {len} entries for {m} weights"));
        }
    }
    let mut by_node: Vec<(usize, usize)> = Vec::with_capacity(m);
    for k in 0..m {
        let (tree, id) = (get(w_trees, k)?, get(w_nodes, k)?);
        let p = position
            .get(&(tree, id))
            .copied()
            .ok_or_else(|| format!("a weight names node {id}, not in tree {tree}"))?;
        by_node.push((p, k));
    }
    by_node.sort();
    let mut weights = Vec::with_capacity(m);
    for &(p, k) in &by_node {
        let column = get(w_ids, k)?;
        let column = usize::try_from(column)
            .ok()
            .filter(|c| *c < columns)
            .ok_or_else(|| format!("a weight goes to output {column}, outside 0..{columns}"))?;
        let w64 = w_values.get(k).copied().unwrap_or_default();
        if let Some(node) = nodes.get_mut(p) {
            if node.w_len == 0 {
                node.w_start = weights.len();
            }
            node.w_len += 1;
        }
        weights.push(Weight {
            column,
            w32: w64 as f32,
            w64,
        });
    }

    let base = a.reals("base_values")?;
    if base.len() > columns {
        return Err(format!(
            "base_values has {} entries for {columns} outputs",
            base.len()
        ));
    }
    let aggregate = match (classifier, a.string("aggregate_function")) {
        (true, _) | (false, b"" | b"SUM") => Aggregate::Sum,
        (false, b"AVERAGE") => Aggregate::Average,
        (false, b"MIN") => Aggregate::Min,
        (false, b"MAX") => Aggregate::Max,
        (false, other) => {
            return Err(format!(
                "unknown aggregate_function '{}'",
                String::from_utf8_lossy(other)
            ))
        }
    };
    let classes = classes_labels.map(|labels| {
        let mut used: Vec<usize> = weights.iter().map(|w| w.column).collect();
        used.sort_unstable();
        used.dedup();
        Classes {
            binary: labels.len() == 2 && used.len() == 1,
            all_positive: w_values.iter().all(|w| *w >= 0.0),
            labels,
        }
    });
    let mut branches = nodes.iter().map(|n| n.mode).filter(|m| *m != Mode::Leaf);
    let first_branch = branches.next();
    let branch = first_branch.filter(|b| branches.all(|m| m == *b));
    Ok(Ensemble {
        branch,
        steps32: steps(&nodes, |n| n.thr32)?,
        steps64: steps(&nodes, |n| n.thr64)?,
        nodes,
        roots,
        weights,
        columns,
        features: max_feature.map_or(0, |f| f + 1),
        aggregate,
        post: PostTransform::parse(a.string("post_transform"))?,
        base,
        wide,
        classes,
    })
}

fn get(list: &[i64], i: usize) -> Result<i64, String> {
    list.get(i)
        .copied()
        .ok_or_else(|| "an attribute list is too short".to_string())
}

/// A walk from each root must meet no node twice (no cycle, no shared child), so every
/// walk ends at a leaf within the node count.
fn check_walks(
    nodes: &[Node],
    roots: &[usize],
    name: impl Fn(usize) -> (i64, i64),
) -> Result<(), String> {
    let mut seen = vec![false; nodes.len()];
    let mut stack = Vec::new();
    for &root in roots {
        stack.push(root);
        while let Some(p) = stack.pop() {
            let Some(flag) = seen.get_mut(p) else {
                continue;
            };
            if *flag {
                let (tree, id) = name(p);
                return Err(format!(
                    "node {id} of tree {tree} is reached twice (a cycle or a shared child)"
                ));
            }
            *flag = true;
            if let Some(node) = nodes.get(p).filter(|n| n.mode != Mode::Leaf) {
                stack.push(node.yes);
                stack.push(node.no);
            }
        }
    }
    Ok(())
}
