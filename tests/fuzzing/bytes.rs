//! Mutations of a valid file's bytes: bit flips, truncations, insertions, splices from
//! another file, and rewritten protobuf varints (tags, values and lengths).

use proptest::prelude::*;

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
