//! Collations: which byte strings are equal and how they order, as a list of weights per
//! string. Every collation handled here is PAD SPACE (trailing spaces do not count) except
//! `binary`, which compares bytes as they are.
//!
//! `utf8mb4_unicode_ci`/`utf8mb3_unicode_ci` are approximated by the general_ci weights (same
//! case and Latin accent folding; UCA differs for expansions such as ß = ss and for the order
//! of punctuation). Outside U+0000..U+017F general_ci's weights are approximated by the simple
//! Unicode upper-case mapping.

/// How a string column's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `binary` (63): bytes, no padding.
    Binary,
    /// A `_bin` collation over UTF-8 (or ASCII) data: code points, PAD SPACE.
    CodePoint,
    /// `latin1_bin`: bytes, PAD SPACE.
    Latin1Bin,
    /// `utf8mb3_general_ci`, `utf8mb4_general_ci` (and the unicode_ci approximation).
    GeneralCi,
    /// `latin1_swedish_ci`, `ascii_general_ci`: ASCII data only (other bytes are refused).
    AsciiCi,
}

/// U+0020, the padding character.
pub const SPACE: u32 = 0x20;

impl Collation {
    /// The collation of a collation id, `None` when it is not handled.
    pub fn from_id(id: u16) -> Option<Self> {
        Some(match id {
            63 => Collation::Binary,
            // utf8mb4_bin, utf8mb3_bin, ascii_bin
            46 | 83 | 65 => Collation::CodePoint,
            47 => Collation::Latin1Bin,
            // utf8mb3_general_ci, utf8mb4_general_ci, utf8mb3_unicode_ci, utf8mb4_unicode_ci
            33 | 45 | 192 | 224 => Collation::GeneralCi,
            // latin1_swedish_ci, ascii_general_ci
            8 | 11 => Collation::AsciiCi,
            _ => return None,
        })
    }

    /// The weights of a string with trailing spaces removed; `None` when the data is outside
    /// what this collation handles (non-ASCII bytes for [`Collation::AsciiCi`]).
    /// Not used for [`Collation::Binary`], which compares raw bytes.
    pub fn weights(self, bytes: &[u8]) -> Option<Vec<u32>> {
        let mut w: Vec<u32> = match self {
            Collation::Binary | Collation::Latin1Bin => {
                bytes.iter().map(|&b| u32::from(b)).collect()
            }
            Collation::CodePoint => String::from_utf8_lossy(bytes)
                .chars()
                .map(u32::from)
                .collect(),
            Collation::GeneralCi => String::from_utf8_lossy(bytes)
                .chars()
                .map(general_ci_weight)
                .collect(),
            Collation::AsciiCi => {
                if !bytes.is_ascii() {
                    return None;
                }
                bytes
                    .iter()
                    .map(|b| u32::from(b.to_ascii_uppercase()))
                    .collect()
            }
        };
        while w.last() == Some(&SPACE) {
            w.pop();
        }
        Some(w)
    }
}

/// Compares two weight strings as if the shorter were padded with spaces (PAD SPACE).
pub fn pad_space_cmp(a: &[u32], b: &[u32]) -> std::cmp::Ordering {
    let common = a.len().min(b.len());
    let head = a[..common].cmp(&b[..common]);
    if head.is_ne() {
        return head;
    }
    let rest_cmp = |rest: &[u32]| {
        rest.iter()
            .map(|&w| w.cmp(&SPACE))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    if a.len() > common {
        rest_cmp(&a[common..])
    } else {
        rest_cmp(&b[common..]).reverse()
    }
}

/// general_ci's weight of one character: upper case with Latin accents folded, U+FFFD for
/// characters outside the Basic Multilingual Plane.
pub fn general_ci_weight(c: char) -> u32 {
    let cp = u32::from(c);
    match cp {
        0..=0x7F => u32::from(c.to_ascii_uppercase()),
        0xB5 => 0x39C,
        0x80..=0xBF => cp,
        0xC0..=0x17F => u32::from(LATIN_WEIGHTS[(cp - 0xC0) as usize]),
        0x10000.. => 0xFFFD,
        _ => {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) if u32::from(u) < 0x10000 => u32::from(u),
                _ => cp,
            }
        }
    }
}

/// general_ci weights of U+00C0..=U+017F, as MariaDB's `WEIGHT_STRING` reports them.
#[rustfmt::skip]
const LATIN_WEIGHTS: [u16; 192] = [
    0x0041, 0x0041, 0x0041, 0x0041, 0x0041, 0x0041, 0x00C6, 0x0043, 0x0045, 0x0045, 0x0045, 0x0045,
    0x0049, 0x0049, 0x0049, 0x0049, 0x00D0, 0x004E, 0x004F, 0x004F, 0x004F, 0x004F, 0x004F, 0x00D7,
    0x00D8, 0x0055, 0x0055, 0x0055, 0x0055, 0x0059, 0x00DE, 0x0053, 0x0041, 0x0041, 0x0041, 0x0041,
    0x0041, 0x0041, 0x00C6, 0x0043, 0x0045, 0x0045, 0x0045, 0x0045, 0x0049, 0x0049, 0x0049, 0x0049,
    0x00D0, 0x004E, 0x004F, 0x004F, 0x004F, 0x004F, 0x004F, 0x00F7, 0x00D8, 0x0055, 0x0055, 0x0055,
    0x0055, 0x0059, 0x00DE, 0x0059, 0x0041, 0x0041, 0x0041, 0x0041, 0x0041, 0x0041, 0x0043, 0x0043,
    0x0043, 0x0043, 0x0043, 0x0043, 0x0043, 0x0043, 0x0044, 0x0044, 0x0110, 0x0110, 0x0045, 0x0045,
    0x0045, 0x0045, 0x0045, 0x0045, 0x0045, 0x0045, 0x0045, 0x0045, 0x0047, 0x0047, 0x0047, 0x0047,
    0x0047, 0x0047, 0x0047, 0x0047, 0x0048, 0x0048, 0x0126, 0x0126, 0x0049, 0x0049, 0x0049, 0x0049,
    0x0049, 0x0049, 0x0049, 0x0049, 0x0049, 0x0049, 0x0132, 0x0132, 0x004A, 0x004A, 0x004B, 0x004B,
    0x0138, 0x004C, 0x004C, 0x004C, 0x004C, 0x004C, 0x004C, 0x013F, 0x013F, 0x0141, 0x0141, 0x004E,
    0x004E, 0x004E, 0x004E, 0x004E, 0x004E, 0x0149, 0x014A, 0x014A, 0x004F, 0x004F, 0x004F, 0x004F,
    0x004F, 0x004F, 0x0152, 0x0152, 0x0052, 0x0052, 0x0052, 0x0052, 0x0052, 0x0052, 0x0053, 0x0053,
    0x0053, 0x0053, 0x0053, 0x0053, 0x0053, 0x0053, 0x0054, 0x0054, 0x0054, 0x0054, 0x0166, 0x0166,
    0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055, 0x0055,
    0x0057, 0x0057, 0x0059, 0x0059, 0x0059, 0x005A, 0x005A, 0x005A, 0x005A, 0x005A, 0x005A, 0x0053,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    fn w(c: Collation, s: &str) -> Vec<u32> {
        c.weights(s.as_bytes()).expect("weights")
    }

    #[test]
    fn general_ci_folds_case_and_accents() {
        let g = Collation::GeneralCi;
        assert_eq!(w(g, "abc"), w(g, "ABC"));
        assert_eq!(w(g, "é"), w(g, "E"));
        assert_eq!(w(g, "ß"), w(g, "s"));
        assert_eq!(w(g, "Ĉ"), w(g, "c"));
        assert_ne!(w(g, "æ"), w(g, "a"));
        assert_eq!(w(g, "ж"), w(g, "Ж"));
        assert_eq!(w(g, "a😀"), w(g, "a😁"), "outside the BMP all weigh U+FFFD");
        assert_eq!(w(g, "a  "), w(g, "A"));
    }

    #[test]
    fn pad_space_compares_against_spaces() {
        let c = Collation::CodePoint;
        assert_eq!(pad_space_cmp(&w(c, "a"), &w(c, "a  ")), Equal);
        // 'a\t' < 'a' because TAB < SPACE
        assert_eq!(pad_space_cmp(&w(c, "a\t"), &w(c, "a")), Less);
        assert_eq!(pad_space_cmp(&w(c, "a"), &w(c, "a\t")), Greater);
        assert_eq!(pad_space_cmp(&w(c, "ab"), &w(c, "a")), Greater);
        assert_eq!(
            pad_space_cmp(&w(c, "B"), &w(c, "a")),
            Less,
            "bin is case-sensitive"
        );
        assert_eq!(
            pad_space_cmp(&w(c, "é"), &w(c, "z")),
            Greater,
            "code point order"
        );
    }

    #[test]
    fn ascii_ci_refuses_other_bytes() {
        assert_eq!(w(Collation::AsciiCi, "Ab"), w(Collation::AsciiCi, "aB "));
        assert!(Collation::AsciiCi.weights(b"\xE9").is_none());
    }

    #[test]
    fn unknown_ids_are_not_guessed() {
        assert_eq!(Collation::from_id(45), Some(Collation::GeneralCi));
        assert_eq!(Collation::from_id(63), Some(Collation::Binary));
        for id in [255u16, 48, 246, 309, 0] {
            assert_eq!(Collation::from_id(id), None, "{id}");
        }
    }
}
