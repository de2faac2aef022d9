//! CLIP's byte-level BPE tokenizer, written from the published algorithm (OpenAI CLIP
//! `simple_tokenizer.py`, MIT): lower-case, collapse whitespace, split with CLIP's pattern, map
//! bytes to printable characters, apply merges by rank, wrap in start/end tokens, pad with zeros.
//!
//! The vocabulary is rebuilt from the merges file (`bpe_simple_vocab_16e6.txt[.gz]`): the 256 byte
//! characters, the same with `</w>`, one entry per merge in file order, then `<|startoftext|>` and
//! `<|endoftext|>` — 49408 ids for the real file (SOT 49406, EOT 49407).
//!
//! Not reproduced: `ftfy.fix_text` (mojibake repair) and HTML entity unescaping, which only matter
//! for text that is not plain typed input.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::ShapEError;

/// Merges used from the real file: `49152 − 256 − 2` (later lines are ignored, as upstream).
pub const MAX_MERGES: usize = 49152 - 256 - 2;

/// CLIP's split pattern (OpenAI `simple_tokenizer.py`).
const PATTERN: &str =
    r"(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

pub struct ClipTokenizer {
    encoder: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    byte_chars: [char; 256],
    pattern: regex::Regex,
    context_length: usize,
    sot: u32,
    eot: u32,
}

fn printable_bytes() -> Vec<u32> {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~')).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    printable
}

/// Bytes in the order of the first 256 vocabulary entries: printable ones, then the rest ascending.
fn byte_order() -> Vec<u8> {
    let printable = printable_bytes();
    let rest = (0..256u32).filter(|b| !printable.contains(b));
    printable.iter().copied().chain(rest).map(|b| b as u8).collect()
}

/// GPT-2/CLIP's reversible map from bytes to printable characters.
fn bytes_to_unicode() -> [char; 256] {
    let printable = printable_bytes();
    let mut out = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        out[b as usize] = char::from_u32(c).unwrap_or('?');
    }
    out
}

impl ClipTokenizer {
    /// Reads a merges file, plain text or gzip (detected by its magic bytes).
    pub fn from_file(path: &Path, context_length: usize) -> Result<Self, ShapEError> {
        let io = |source| ShapEError::Io { path: path.display().to_string(), source };
        let raw = std::fs::read(path).map_err(io)?;
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut s).map_err(io)?;
            s
        } else {
            String::from_utf8(raw).map_err(|_| ShapEError::BadVocab("the merges file is not UTF-8 text".into()))?
        };
        Self::from_merges(&text, context_length)
    }

    /// Builds the tokenizer from the text of a merges file (first line is a header).
    pub fn from_merges(text: &str, context_length: usize) -> Result<Self, ShapEError> {
        if context_length < 2 {
            return Err(ShapEError::BadVocab("the context must hold at least the start and end tokens".into()));
        }
        let byte_chars = bytes_to_unicode();
        // Upstream lists the byte characters in its map's insertion order: printable bytes first.
        let order = byte_order();
        let mut vocab: Vec<String> = order.iter().map(|&b| byte_chars[b as usize].to_string()).collect();
        vocab.extend(order.iter().map(|&b| format!("{}</w>", byte_chars[b as usize])));
        let mut ranks = HashMap::new();
        for (i, line) in text.split('\n').skip(1).take(MAX_MERGES).enumerate() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.is_empty() {
                continue;
            }
            let [a, b] = parts[..] else {
                return Err(ShapEError::BadVocab(format!("line {} is not a pair of symbols: '{line}'", i + 2)));
            };
            vocab.push(format!("{a}{b}"));
            ranks.insert((a.to_string(), b.to_string()), i);
        }
        vocab.push("<|startoftext|>".into());
        vocab.push("<|endoftext|>".into());
        let n = vocab.len() as u32;
        let encoder = vocab.into_iter().enumerate().map(|(i, s)| (s, i as u32)).collect();
        let pattern = regex::Regex::new(PATTERN).map_err(|e| ShapEError::BadVocab(e.to_string()))?;
        Ok(Self { encoder, ranks, byte_chars, pattern, context_length, sot: n - 2, eot: n - 1 })
    }

    pub fn vocab_size(&self) -> usize {
        self.encoder.len()
    }

    pub fn sot(&self) -> u32 {
        self.sot
    }

    pub fn eot(&self) -> u32 {
        self.eot
    }

    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// The merged symbols of one pre-token (already mapped to byte characters).
    fn bpe(&self, token: &str) -> Vec<String> {
        if token == "<|startoftext|>" || token == "<|endoftext|>" {
            return vec![token.to_string()];
        }
        let chars: Vec<char> = token.chars().collect();
        let mut word: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|w| self.ranks.get(&(w[0].clone(), w[1].clone())).map(|&r| (r, w[0].clone(), w[1].clone())))
                .min_by_key(|(r, _, _)| *r);
            let Some((_, first, second)) = best else { break };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }

    /// Token ids of `text` without start/end tokens or padding.
    pub fn encode_raw(&self, text: &str) -> Vec<u32> {
        let clean = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let mut ids = Vec::new();
        for m in self.pattern.find_iter(&clean) {
            let mapped: String = m.as_str().bytes().map(|b| self.byte_chars[b as usize]).collect();
            for sym in self.bpe(&mapped) {
                // Every symbol is a byte character or a merge result, so it is always in the vocabulary.
                if let Some(&id) = self.encoder.get(&sym) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// `[SOT, tokens…, EOT]`, truncated to the context (keeping EOT last), NOT padded.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.sot];
        ids.extend(self.encode_raw(text));
        ids.push(self.eot);
        if ids.len() > self.context_length {
            ids.truncate(self.context_length);
            ids[self.context_length - 1] = self.eot;
        }
        ids
    }

    /// [`ClipTokenizer::encode`] padded with zeros to the full context, as OpenAI's `clip.tokenize`.
    pub fn encode_padded(&self, text: &str) -> Vec<u32> {
        let mut ids = self.encode(text);
        ids.resize(self.context_length, 0);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_a_bijection_onto_printables() {
        let m = bytes_to_unicode();
        let mut seen = std::collections::HashSet::new();
        assert!(m.iter().all(|c| seen.insert(*c)));
        assert_eq!(m[b'a' as usize], 'a');
        assert_eq!(m[b' ' as usize], 'Ġ');
        let order = byte_order();
        assert_eq!((order[0], order[64], order[188]), (b'!', b'a', 0));
    }

    #[test]
    fn merges_apply_by_rank_and_truncation_keeps_eot() {
        let t = ClipTokenizer::from_merges("#version\nh i</w>\na b\nab c</w>\n", 5).unwrap();
        assert_eq!(t.vocab_size(), 512 + 3 + 2);
        let hi = t.encoder["hi</w>"];
        let abc = t.encoder["abc</w>"];
        assert_eq!(t.encode("HI  abc"), vec![t.sot(), hi, abc, t.eot()]);
        let long = t.encode("hi hi hi hi hi");
        assert_eq!(long.len(), 5);
        assert_eq!(*long.last().unwrap(), t.eot());
        assert_eq!(t.encode_padded("hi"), vec![t.sot(), hi, t.eot(), 0, 0]);
    }
}
