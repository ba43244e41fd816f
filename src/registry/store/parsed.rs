//! Parsed forms of stored datasets, kept beside the uploaded objects so that every
//! replica and every restart reuses one parse (the bytes are `train::parsed_form`'s):
//!
//! ```text
//! _datasets/parsed/<object id>-<variant>.bin
//! ```
//!
//! A form belongs to one uploaded object, which never changes, so it can never be stale:
//! replacing a dataset makes a new object, and the old object's forms go with it. The
//! variant names how the object was read (target, task, class names). What all the forms
//! together hold is bounded in bytes; the least recently used go first (on S3, where a
//! read cannot cheaply refresh a date, the oldest written).

use super::datasets::{valid_object_id, DatasetInfo, DatasetStore, ParsedEntry, DATASETS_DIR};
use std::io;

pub const PARSED_DIR: &str = "parsed";

/// Variants are 16 lower-case hex digits, so a key never leaves its folder.
pub fn valid_variant(variant: &str) -> bool {
    variant.len() == 16
        && variant
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn parsed_key(object: &str, variant: &str) -> String {
    format!("{DATASETS_DIR}/{PARSED_DIR}/{object}-{variant}.bin")
}

/// The object a form's file name belongs to, if the name is one this module writes.
pub fn object_of(file: &str) -> Option<&str> {
    let (object, variant) = file.strip_suffix(".bin")?.split_once('-')?;
    (valid_object_id(object) && valid_variant(variant)).then_some(object)
}

/// The object a form's key (relative to the store root) belongs to, if the key is one
/// [`parsed_key`] makes: directly in the forms' folder, never beside or below it.
pub fn object_of_key(key: &str) -> Option<&str> {
    let file = key
        .strip_prefix(DATASETS_DIR)?
        .strip_prefix('/')?
        .strip_prefix(PARSED_DIR)?
        .strip_prefix('/')?;
    object_of(file)
}

/// Refuses a key [`parsed_key`] would not make, so a store primitive never reads, writes
/// or removes anything but a form.
pub fn check_key(key: &str) -> io::Result<()> {
    match object_of_key(key) {
        Some(_) => Ok(()),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a parsed form's key: {key:?}"),
        )),
    }
}

fn check_variant(variant: &str) -> io::Result<()> {
    if valid_variant(variant) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("parsed form variant {variant:?}"),
        ))
    }
}

/// The form of what `name` holds now, read as `variant`, with the record it belongs to;
/// `None` if the dataset or the form is absent.
pub fn read_parsed(
    store: &(impl DatasetStore + ?Sized),
    name: &str,
    variant: &str,
    limit: u64,
) -> io::Result<Option<(DatasetInfo, Vec<u8>)>> {
    check_variant(variant)?;
    let Some(record) = store.read_record(name)? else {
        return Ok(None);
    };
    let bytes = store.read_parsed_key(&parsed_key(&record.object, variant), limit)?;
    Ok(bytes.map(|b| (record.info, b)))
}

/// Keeps `bytes` as the form of `name` read as `variant`, if the dataset still holds the
/// content `sha256` names and the form fits in `budget`; older forms are removed to make
/// room. Whether it was kept.
pub fn write_parsed(
    store: &(impl DatasetStore + ?Sized),
    name: &str,
    sha256: &str,
    variant: &str,
    bytes: Vec<u8>,
    budget: u64,
) -> io::Result<bool> {
    check_variant(variant)?;
    let size = bytes.len() as u64;
    let Some(record) = store.read_record(name)? else {
        return Ok(false);
    };
    if record.info.sha256 != sha256 || size > budget {
        return Ok(false);
    }
    let key = parsed_key(&record.object, variant);
    let mut others: Vec<ParsedEntry> = store
        .list_parsed()?
        .into_iter()
        .filter(|e| e.key != key)
        .collect();
    others.sort_by_key(|e| e.used);
    let mut held: u64 = others.iter().map(|e| e.size).sum();
    for oldest in &others {
        if held.saturating_add(size) <= budget {
            break;
        }
        store.delete_parsed_key(&oldest.key)?;
        held = held.saturating_sub(oldest.size);
    }
    store.put_parsed_key(&key, bytes)?;
    // A replace or delete that ran since the record was read has already removed the
    // object's forms: this one would outlive it.
    let current = store.read_record(name)?;
    if current.is_none_or(|r| r.object != record.object) {
        store.delete_parsed_key(&key)?;
        return Ok(false);
    }
    Ok(true)
}

/// Removes the forms of an object that was replaced or removed.
pub fn remove_parsed_of(store: &(impl DatasetStore + ?Sized), object: &str) {
    let removed = store.list_parsed().and_then(|entries| {
        entries
            .iter()
            .filter(|e| e.object == object)
            .try_for_each(|e| store.delete_parsed_key(&e.key))
    });
    if let Err(e) = removed {
        tracing::warn!(object, error = %e, "cannot remove the parsed forms of a dataset object");
    }
}

/// Start-up janitor: forms whose object no record names (a replica stopped between a
/// replace and its clean-up). No grace is needed: a form is only written for an object a
/// record named, and an object no record names is never named again.
pub fn remove_unreferenced_parsed(
    store: &(impl DatasetStore + ?Sized),
    referenced: &std::collections::HashSet<String>,
) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    for entry in store.list_parsed()? {
        if referenced.contains(&entry.object) {
            continue;
        }
        // One form that cannot be removed now stops neither the others nor the rest of
        // the janitor's work; the next start-up tries it again.
        match store.delete_parsed_key(&entry.key) {
            Ok(()) => removed.push(entry.key),
            Err(e) => tracing::warn!(key = %entry.key, error = %e, "cannot remove a parsed form"),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_this_module_writes_are_forms() {
        let object = "0123456789abcdef0123456789abcdef";
        let key = parsed_key(object, "00ff00ff00ff00ff");
        assert_eq!(
            key,
            format!("_datasets/parsed/{object}-00ff00ff00ff00ff.bin")
        );
        let file = key.rsplit('/').next().unwrap_or_default();
        assert_eq!(object_of(file), Some(object));
        assert_eq!(object_of_key(&key), Some(object));
        assert!(check_key(&key).is_ok());
        for bad in [
            format!("_datasets/parsed/x/{file}"),
            format!("_datasets/objects/{file}"),
            format!("_datasets/parsed/../{file}"),
            file.to_string(),
        ] {
            assert!(check_key(&bad).is_err(), "{bad}");
        }
        for bad in [
            "x.bin",
            "0123456789abcdef0123456789abcdef-00FF00FF00FF00FF.bin",
            "0123456789abcdef0123456789abcdef-00ff00ff00ff00ff.csv",
            "../0123456789abcdef0123456789ab-00ff00ff00ff00ff.bin",
            ".tmp-0123456789abcdef0123456789abcdef-00ff00ff00ff00ff.bin",
        ] {
            assert_eq!(object_of(bad), None, "{bad}");
        }
        assert!(!valid_variant("../../etc/passwd"));
    }
}
