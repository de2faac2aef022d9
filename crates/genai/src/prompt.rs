//! Reading a prompt: numbers (digits or words), lengths with units and what they measure, counts,
//! the text to put on an object, shapes, styles and flags.
//!
//! The parser never fails and never panics: whatever it cannot read it leaves out. What it
//! finds feeds [`crate::procedural::match_prompt`].

use serde::Serialize;

/// Longest input read, in characters (requests are limited to 300; anything past this is ignored).
const MAX_INPUT_CHARS: usize = 1000;
/// Longest text taken for an object, in characters.
const MAX_TEXT_CHARS: usize = 40;

/// What a length measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    Height,
    Width,
    Depth,
    Length,
    Diameter,
    Thickness,
}

/// A length found in the prompt, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dimension {
    pub mm: f64,
    /// What it measures when the prompt says ("5 cm tall"); `None` for "a 10 cm vase".
    pub axis: Option<Axis>,
}

/// "20 teeth", "6 sides", "3 holes": a whole number and the (singular) noun after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub n: u32,
    pub noun: String,
}

/// Outline shapes a prompt can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Round,
    Square,
    Triangle,
    Pentagon,
    Hexagon,
    Octagon,
    Heart,
    Star,
}

impl Shape {
    pub const ALL: [Shape; 8] = [
        Shape::Round,
        Shape::Square,
        Shape::Triangle,
        Shape::Pentagon,
        Shape::Hexagon,
        Shape::Octagon,
        Shape::Heart,
        Shape::Star,
    ];

    /// Number of straight sides of a regular polygon shape.
    pub fn sides(self) -> Option<u32> {
        match self {
            Shape::Triangle => Some(3),
            Shape::Square => Some(4),
            Shape::Pentagon => Some(5),
            Shape::Hexagon => Some(6),
            Shape::Octagon => Some(8),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Round => "round",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Pentagon => "pentagon",
            Shape::Hexagon => "hexagon",
            Shape::Octagon => "octagon",
            Shape::Heart => "heart",
            Shape::Star => "star",
        }
    }

    pub fn from_name(s: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Style words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Styles {
    pub twisted: bool,
    pub ribbed: bool,
    pub smooth: bool,
    /// Raised (embossed) text.
    pub raised: bool,
    /// Engraved (carved) text.
    pub engraved: bool,
}

/// Yes/no features; `None` when the prompt does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Flags {
    pub lid: Option<bool>,
    pub hole: Option<bool>,
    pub drainage: Option<bool>,
    pub hollow: bool,
}

/// Everything read from a prompt.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ParsedPrompt {
    /// The prompt as given (whitespace collapsed).
    pub original: String,
    /// Lowercase words with number words turned into digits and units split off ("60mm" → "60",
    /// "mm"); quoted text is left out.
    pub words: Vec<String>,
    /// Text to put on the object, in the user's own capitalisation.
    pub text: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub counts: Vec<Count>,
    /// Every number, in order.
    pub numbers: Vec<f64>,
    /// Angles in degrees ("twisted 90 degrees").
    pub angles: Vec<f64>,
    pub shape: Option<Shape>,
    pub styles: Styles,
    pub flags: Flags,
}

impl ParsedPrompt {
    /// Is `word` one of the prompt's words (also matching a plural "s")?
    pub fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word || (w.len() == word.len() + 1 && w.starts_with(word) && w.ends_with('s')))
    }

    /// Does the prompt contain these words in a row ("name tag", "pen holder")? The last word may
    /// be plural.
    pub fn has_phrase(&self, phrase: &str) -> bool {
        let p: Vec<&str> = phrase.split_whitespace().collect();
        if p.len() <= 1 {
            return p.first().is_some_and(|w| self.has(w));
        }
        self.words.windows(p.len()).any(|w| {
            w.iter().zip(&p).enumerate().all(|(k, (a, b))| {
                a == b || (k == p.len() - 1 && a.len() == b.len() + 1 && a.starts_with(b) && a.ends_with('s'))
            })
        })
    }

    /// The first length said to measure `axis`.
    pub fn dimension(&self, axis: Axis) -> Option<f64> {
        self.dimensions.iter().find(|d| d.axis == Some(axis)).map(|d| d.mm)
    }

    /// The first length that says nothing about what it measures ("a 10 cm vase").
    pub fn size(&self) -> Option<f64> {
        self.dimensions.iter().find(|d| d.axis.is_none()).map(|d| d.mm)
    }

    /// The count for a (singular) noun: `count("tooth")` for "20 teeth".
    pub fn count(&self, noun: &str) -> Option<u32> {
        self.counts.iter().find(|c| c.noun == noun).map(|c| c.n)
    }

    /// Number of sides: "6 sides", "hexagonal", "a hexagon".
    pub fn sides(&self) -> Option<u32> {
        self.count("side").or_else(|| self.shape.and_then(Shape::sides))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A word: as typed, and lowercased.
    Word(String, String),
    Num(f64),
    /// `"` or `″` after a number (inches), or `°`.
    Sym(char),
}

/// Tokens, each with the span of characters it came from.
fn tokenise(s: &str) -> (Vec<Tok>, Vec<(usize, usize)>) {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_alphabetic() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphabetic()
                    || ((chars[i] == '\'' || chars[i] == '’')
                        && i + 1 < chars.len()
                        && chars[i + 1].is_alphabetic()
                        && i > start))
            {
                i += 1;
            }
            // "d6", "B12": letters straight into digits make one word (but "10x5" is 10 by 5).
            let head: String = chars[start..i].iter().collect::<String>().to_lowercase();
            if i < chars.len() && chars[i].is_ascii_digit() && head != "x" && !is_unit(&head) {
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
            }
            let w: String = chars[start..i].iter().collect();
            let lower = w.to_lowercase();
            out.push(Tok::Word(w, lower));
            spans.push((start, i));
        } else if c.is_ascii_digit() {
            let mut text = String::new();
            let mut seen_point = false;
            while i < chars.len() {
                let c = chars[i];
                if c.is_ascii_digit() {
                    text.push(c);
                } else if (c == '.' || c == ',') && i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
                    // "1,000" is a thousand; "1,5" and "1.5" are one and a half.
                    let digits_after = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    if c == ',' && digits_after == 3 && !seen_point {
                        // thousands separator: skip it
                    } else if !seen_point {
                        seen_point = true;
                        text.push('.');
                    } else {
                        break;
                    }
                } else {
                    break;
                }
                i += 1;
            }
            // "12B", "3d": digits run straight into letters that are no unit make one word.
            let letters = chars[i..].iter().take_while(|c| c.is_alphabetic()).count();
            if letters > 0 {
                let suffix: String = chars[i..i + letters].iter().collect::<String>().to_lowercase();
                if !is_unit(&suffix) && !matches!(suffix.as_str(), "x" | "st" | "nd" | "rd" | "th" | "deg" | "degrees")
                {
                    let w: String = chars[start..i + letters].iter().collect();
                    let lower = w.to_lowercase();
                    out.push(Tok::Word(w, lower));
                    spans.push((start, i + letters));
                    i += letters;
                    continue;
                }
            }
            if let Ok(v) = text.parse::<f64>() {
                if v.is_finite() {
                    out.push(Tok::Num(v));
                    spans.push((start, i));
                }
            }
        } else {
            if matches!(c, '"' | '″' | '”' | '“') && matches!(out.last(), Some(Tok::Num(_))) {
                out.push(Tok::Sym('"'));
                spans.push((i, i + 1));
            } else if c == '°' {
                out.push(Tok::Sym('°'));
                spans.push((i, i + 1));
            } else if c == '½' {
                if let (Some(Tok::Num(v)), Some(span)) = (out.last_mut(), spans.last_mut()) {
                    *v += 0.5;
                    span.1 = i + 1;
                } else {
                    out.push(Tok::Num(0.5));
                    spans.push((i, i + 1));
                }
            }
            i += 1;
        }
    }
    (out, spans)
}

fn small_number(w: &str) -> Option<u32> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(k) = ONES.iter().position(|x| *x == w) {
        return Some(k as u32);
    }
    if let Some(k) = TENS.iter().position(|x| *x == w) {
        return Some(20 + 10 * k as u32);
    }
    match w {
        "dozen" => Some(12),
        "fourty" => Some(40),
        _ => None,
    }
}

fn is_unit(w: &str) -> bool {
    unit_mm(w).is_some()
}

fn unit_mm(w: &str) -> Option<f64> {
    Some(match w {
        "mm" | "millimetre" | "millimetres" | "millimeter" | "millimeters" => 1.0,
        "cm" | "centimetre" | "centimetres" | "centimeter" | "centimeters" | "cms" => 10.0,
        "m" | "metre" | "metres" | "meter" | "meters" => 1000.0,
        "in" | "inch" | "inches" => 25.4,
        _ => return None,
    })
}

/// Turns number words into numbers: "twenty five" → 25, "a hundred and ten" → 110, "an inch" → 1 inch.
fn number_words(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    let lower = |t: &Tok| match t {
        Tok::Word(_, l) => Some(l.clone()),
        _ => None,
    };
    while i < toks.len() {
        let w = lower(&toks[i]);
        let is_num_word = |w: &str| small_number(w).is_some() || w == "hundred" || w == "thousand";
        match w.as_deref() {
            Some(a)
                if (a == "a" || a == "an")
                    && toks.get(i + 1).and_then(lower).is_some_and(|n| {
                        matches!(
                            n.as_str(),
                            "inch"
                                | "cm"
                                | "centimetre"
                                | "centimeter"
                                | "millimetre"
                                | "millimeter"
                                | "metre"
                                | "meter"
                                | "dozen"
                                | "hundred"
                        )
                    }) =>
            {
                let next = toks.get(i + 1).and_then(lower).unwrap_or_default();
                match next.as_str() {
                    "dozen" => {
                        out.push(Tok::Num(12.0));
                        i += 2;
                    }
                    "hundred" => {
                        // Falls through to the number-word loop with "hundred" as the start.
                        out.push(Tok::Num(1.0));
                        i += 1;
                    }
                    _ => {
                        out.push(Tok::Num(1.0));
                        i += 1;
                    }
                }
            }
            Some(a)
                if is_num_word(a) && !(a == "hundred" || a == "thousand")
                    || (a_is_multiplier(a) && prev_is_num(&out)) =>
            {
                // Accumulate a number phrase.
                let mut total: u64 = 0;
                let mut current: u64 = match out.last() {
                    Some(Tok::Num(v)) if a_is_multiplier(a) && *v >= 0.0 && *v < 1000.0 && v.fract() == 0.0 => {
                        let v = *v as u64;
                        out.pop();
                        v
                    }
                    _ => 0,
                };
                let mut any = false;
                while i < toks.len() {
                    let Some(w) = lower(&toks[i]) else { break };
                    if let Some(n) = small_number(&w) {
                        current += u64::from(n);
                        any = true;
                    } else if w == "hundred" {
                        current = current.max(1) * 100;
                        any = true;
                    } else if w == "thousand" {
                        total += current.max(1) * 1000;
                        current = 0;
                        any = true;
                    } else if w == "and"
                        && any
                        && toks.get(i + 1).and_then(lower).is_some_and(|n| small_number(&n).is_some())
                    {
                        // "a hundred and ten"
                    } else {
                        break;
                    }
                    i += 1;
                    if total + current > 1_000_000 {
                        break;
                    }
                }
                out.push(Tok::Num((total + current) as f64));
            }
            _ => {
                out.push(toks[i].clone());
                i += 1;
            }
        }
    }
    out
}

fn a_is_multiplier(a: &str) -> bool {
    a == "hundred" || a == "thousand" || a == "dozen"
}

fn prev_is_num(out: &[Tok]) -> bool {
    matches!(out.last(), Some(Tok::Num(_)))
}

fn axis_word(w: &str) -> Option<Axis> {
    Some(match w {
        "tall" | "high" | "height" | "heigh" => Axis::Height,
        "wide" | "width" | "broad" => Axis::Width,
        "deep" | "depth" => Axis::Depth,
        "long" | "length" => Axis::Length,
        "across" | "diameter" | "diam" | "dia" | "round" | "wide_round" => Axis::Diameter,
        "thick" | "thickness" => Axis::Thickness,
        _ => return None,
    })
}

fn singular(w: &str) -> String {
    match w {
        "teeth" | "tooth" | "toothed" => "tooth".into(),
        "sided" => "side".into(),
        "pointed" => "point".into(),
        "holed" => "hole".into(),
        "pips" | "dots" | "dot" => "pip".into(),
        "inches" => "inch".into(),
        _ => {
            if w.len() > 3 && w.ends_with("es") && (w.ends_with("shes") || w.ends_with("ches") || w.ends_with("xes")) {
                w[..w.len() - 2].to_string()
            } else if w.len() > 2 && w.ends_with('s') && !w.ends_with("ss") {
                w[..w.len() - 1].to_string()
            } else {
                w.to_string()
            }
        }
    }
}

const FILLER: [&str; 6] = ["of", "is", "about", "around", "roughly", "approximately"];

/// Words that end a piece of text taken after "that says", "for", "named".
const TEXT_STOP: [&str; 22] = [
    "with", "and", "on", "in", "at", "that", "which", "for", "please", "using", "made", "in", "without", "plus", "to",
    "as", "into", "by", "from", "but", "so", "or",
];

/// Words after "for" that are not a name.
const NOT_NAMES: [&str; 24] = [
    "my", "me", "the", "a", "an", "his", "her", "their", "our", "your", "kids", "school", "plants", "pencils", "pens",
    "desk", "kitchen", "door", "room", "class", "home", "him", "them", "us",
];

fn quoted(s: &str) -> (Option<String>, String) {
    let pairs = [('"', '"'), ('“', '”'), ('«', '»'), ('„', '“'), ('‘', '’'), ('\'', '\'')];
    let chars: Vec<char> = s.chars().collect();
    for (open, close) in pairs {
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == open {
                // Single quotes only at a word start, so "Maya's" is not a quote.
                let starts_word = i == 0 || !chars[i - 1].is_alphanumeric();
                if open == '\'' && !starts_word {
                    i += 1;
                    continue;
                }
                if open == '"' && i > 0 && chars[i - 1].is_ascii_digit() {
                    // 5" is five inches.
                    i += 1;
                    continue;
                }
                if let Some(rel) = chars[i + 1..].iter().position(|&c| c == close) {
                    let j = i + 1 + rel;
                    let ends_word = j + 1 >= chars.len() || !chars[j + 1].is_alphanumeric();
                    if open == '\'' && !ends_word {
                        i += 1;
                        continue;
                    }
                    let inner: String = chars[i + 1..j].iter().collect();
                    let inner = inner.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !inner.is_empty() {
                        let rest: String = chars[..i].iter().chain([' '].iter()).chain(chars[j + 1..].iter()).collect();
                        return (Some(inner.chars().take(MAX_TEXT_CHARS).collect()), rest);
                    }
                }
            }
            i += 1;
        }
    }
    (None, s.to_string())
}

/// Reads a prompt. Never fails; see [`ParsedPrompt`].
pub fn parse(prompt: &str) -> ParsedPrompt {
    let clipped: String = prompt.chars().take(MAX_INPUT_CHARS).collect();
    let original = clipped.split_whitespace().collect::<Vec<_>>().join(" ");
    let (mut text, rest) = quoted(&original);
    let (raw, spans) = tokenise(&rest);
    let toks = number_words(raw.clone());
    let mut p = ParsedPrompt { original: original.clone(), ..Default::default() };
    p.words = toks
        .iter()
        .map(|t| match t {
            Tok::Word(_, l) => l.clone(),
            Tok::Num(v) => format_num(*v),
            Tok::Sym(c) => c.to_string(),
        })
        .collect();
    let lower = |k: usize| -> Option<&str> {
        match toks.get(k) {
            Some(Tok::Word(_, l)) => Some(l.as_str()),
            _ => None,
        }
    };
    let mut i = 0;
    while i < toks.len() {
        let Tok::Num(v) = toks[i] else {
            i += 1;
            continue;
        };
        p.numbers.push(v);
        // "60 x 40 x 30 mm"
        let mut group = vec![v];
        let mut j = i + 1;
        while lower(j) == Some("x") || lower(j) == Some("by") {
            if let Some(Tok::Num(w)) = toks.get(j + 1) {
                group.push(*w);
                p.numbers.push(*w);
                j += 2;
            } else {
                break;
            }
        }
        // The unit (and for "in", only when it cannot be the preposition).
        let unit = match toks.get(j) {
            Some(Tok::Sym('"')) => Some(25.4),
            Some(Tok::Word(_, w)) if w == "in" => {
                let next = lower(j + 1);
                // "put 5 in a box" is the preposition; "5 in tall" and "5 in" are inches.
                let prep = next.is_some_and(|n| {
                    matches!(
                        n,
                        "a" | "an" | "the" | "my" | "your" | "his" | "her" | "our" | "their" | "it" | "there" | "total"
                    )
                });
                if prep {
                    None
                } else {
                    Some(25.4)
                }
            }
            Some(Tok::Word(_, w)) => unit_mm(w),
            _ => None,
        };
        if unit.is_some() {
            j += 1;
        }
        let after = {
            let mut k = j;
            while lower(k).is_some_and(|w| w == "in" || FILLER.contains(&w)) {
                k += 1;
            }
            lower(k).and_then(axis_word)
        };
        let before = {
            let mut k = i;
            while k > 0 && lower(k - 1).is_some_and(|w| FILLER.contains(&w) || w == "a" || w == "with") {
                k -= 1;
            }
            if k > 0 {
                lower(k - 1).and_then(axis_word)
            } else {
                None
            }
        };
        if group.len() > 1 {
            let scale = unit.unwrap_or(1.0);
            let axes = if group.len() == 2 {
                vec![Axis::Width, Axis::Depth]
            } else {
                vec![Axis::Width, Axis::Depth, Axis::Height]
            };
            for (g, a) in group.iter().zip(axes) {
                p.dimensions.push(Dimension { mm: g * scale, axis: Some(a) });
            }
            i = j;
            continue;
        }
        if let Some(scale) = unit {
            p.dimensions.push(Dimension { mm: v * scale, axis: after.or(before) });
            i = j;
            continue;
        }
        match toks.get(j) {
            Some(Tok::Sym('°')) => {
                p.angles.push(v);
                i = j + 1;
                continue;
            }
            Some(Tok::Word(_, w)) if matches!(w.as_str(), "degrees" | "degree" | "deg") => {
                p.angles.push(v);
                i = j + 1;
                continue;
            }
            _ => {}
        }
        if let Some(a) = after {
            // "5 tall" without a unit: small numbers are probably centimetres.
            p.dimensions.push(Dimension { mm: if v < 30.0 { v * 10.0 } else { v }, axis: Some(a) });
            i = j + 1;
            continue;
        }
        // "20 teeth", "6-sided", "3 drainage holes".
        let mut k = j;
        if lower(k).is_some_and(|w| {
            matches!(w, "small" | "big" | "large" | "little" | "tiny" | "drainage" | "round" | "extra")
        }) && lower(k + 1).is_some()
        {
            k += 1;
        }
        if let Some(w) = lower(k) {
            if v >= 0.0 && v.fract() == 0.0 && v <= 10_000.0 && !is_unit(w) && !TEXT_STOP.contains(&w) && w != "x" {
                p.counts.push(Count { n: v as u32, noun: singular(w) });
                i = k + 1;
                continue;
            }
        }
        // "module 2", "teeth: 20", "sides 6".
        if i > 0 {
            if let Some(w) = lower(i - 1) {
                if matches!(w, "module" | "teeth" | "tooth" | "sides" | "holes" | "points" | "pips") && v.fract() == 0.0
                {
                    p.counts.push(Count { n: v.clamp(0.0, 10_000.0) as u32, noun: singular(w) });
                } else if w == "module" {
                    p.counts.push(Count { n: v as u32, noun: "module".into() });
                }
            }
        }
        i += 1;
    }
    // Shapes, styles, flags.
    for (k, w) in p.words.iter().enumerate() {
        let negated = (k >= 1 && matches!(p.words[k - 1].as_str(), "no" | "without" | "not"))
            || (k >= 2 && matches!(p.words[k - 2].as_str(), "no" | "without" | "not"));
        let shape = match w.as_str() {
            "round" | "circle" | "circular" | "disc" | "disk" | "circles" | "cylinder" | "cylindrical" => {
                Some(Shape::Round)
            }
            "square" | "squares" | "cube" | "rectangle" | "rectangular" | "squared" => Some(Shape::Square),
            "triangle" | "triangular" | "triangles" => Some(Shape::Triangle),
            "pentagon" | "pentagonal" => Some(Shape::Pentagon),
            "hexagon" | "hexagonal" | "hex" | "hexagons" => Some(Shape::Hexagon),
            "octagon" | "octagonal" => Some(Shape::Octagon),
            "heart" | "hearts" | "love" => Some(Shape::Heart),
            "star" | "stars" | "starry" => Some(Shape::Star),
            _ => None,
        };
        if p.shape.is_none() {
            p.shape = shape;
        }
        match w.as_str() {
            "twisted" | "twist" | "twisty" | "spiral" | "swirl" | "swirly" | "twirl" | "twirly" | "spiralling"
            | "spiraling" => p.styles.twisted = !negated,
            "ribbed" | "ribs" | "ridged" | "ridges" | "fluted" | "grooved" | "ribbing" => p.styles.ribbed = !negated,
            "smooth" | "plain" | "simple" => p.styles.smooth = true,
            "raised" | "embossed" | "relief" | "extruded" | "bumpy" | "3d" => p.styles.raised = true,
            "engraved" | "carved" | "etched" | "debossed" | "sunken" | "engrave" | "carve" | "engraving" => {
                p.styles.engraved = true
            }
            "lid" | "lids" | "cover" | "lidded" => p.flags.lid = Some(!negated),
            "open" | "lidless" if p.flags.lid.is_none() => p.flags.lid = Some(false),
            "hole" | "holes" | "keyring" | "loop" => {
                if !(k >= 1 && matches!(p.words[k - 1].as_str(), "drainage" | "drain")) {
                    p.flags.hole = Some(!negated)
                } else {
                    p.flags.drainage = Some(!negated)
                }
            }
            "drainage" | "drain" | "drains" | "draining" => p.flags.drainage = Some(!negated),
            "hollow" => p.flags.hollow = !negated,
            _ => {}
        }
    }
    if let Some(c) = p.count("side") {
        if c == 0 {
            p.counts.retain(|c| c.noun != "side");
        }
    }
    if text.is_none() {
        text = text_after_keywords(&raw, &spans, &rest);
    }
    p.text = text;
    p
}

fn format_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Text after "that says", "saying", "with the name", "named", "called", or capitalised words after
/// "for": the user's own characters from the first word taken to the last ("Room 12B", "Mr. O'Neil").
fn text_after_keywords(toks: &[Tok], spans: &[(usize, usize)], rest: &str) -> Option<String> {
    let chars: Vec<char> = rest.chars().collect();
    let lower = |k: usize| -> Option<&str> {
        match toks.get(k) {
            Some(Tok::Word(_, l)) => Some(l.as_str()),
            _ => None,
        }
    };
    let take = |from: usize, capital_only: bool| -> Option<String> {
        let mut words: Vec<String> = Vec::new();
        let mut last = from;
        let mut k = from;
        while let Some(t) = toks.get(k) {
            match t {
                Tok::Word(orig, l) => {
                    if TEXT_STOP.contains(&l.as_str()) && !words.is_empty() {
                        break;
                    }
                    if capital_only && !orig.chars().next().is_some_and(char::is_uppercase) {
                        break;
                    }
                    if TEXT_STOP.contains(&l.as_str()) {
                        break;
                    }
                    words.push(orig.clone());
                }
                Tok::Num(v) if !capital_only => words.push(format_num(*v)),
                _ => break,
            }
            last = k;
            k += 1;
            if words.len() >= 5 {
                break;
            }
        }
        if words.is_empty() {
            return None;
        }
        let (a, mut b) = (spans.get(from)?.0, spans.get(last)?.1.min(chars.len()));
        // A closing "!" or "?" belongs to the text.
        while b < chars.len() && matches!(chars[b], '!' | '?') {
            b += 1;
        }
        let s: String = chars.get(a..b)?.iter().collect();
        let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_TEXT_CHARS).collect();
        (!s.is_empty()).then_some(s)
    };
    let mentions_name = (0..toks.len()).any(|k| matches!(lower(k), Some("name" | "names" | "nametag")));
    for k in 0..toks.len() {
        let w = lower(k);
        let start = match w {
            Some("says" | "saying" | "reads" | "reading" | "named" | "called" | "spelling" | "spells") => Some(k + 1),
            Some("with" | "and") => {
                // "with the name X", "with the text X", "with the word X", "with name X", "with my name X"
                let mut j = k + 1;
                while matches!(lower(j), Some("the" | "a" | "my" | "her" | "his" | "their")) {
                    j += 1;
                }
                match lower(j) {
                    Some("name" | "text" | "word" | "words" | "letters" | "initials" | "message") => Some(j + 1),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(s) = start {
            let s = if matches!(lower(s), Some(":" | "of")) { s + 1 } else { s };
            if let Some(t) = take(s, false) {
                return Some(t);
            }
        }
    }
    for k in 0..toks.len() {
        if lower(k) == Some("for") {
            if let Some(Tok::Word(orig, l)) = toks.get(k + 1) {
                if NOT_NAMES.contains(&l.as_str()) {
                    continue;
                }
                if orig.chars().next().is_some_and(char::is_uppercase) {
                    return take(k + 1, true);
                }
                if mentions_name && !TEXT_STOP.contains(&l.as_str()) {
                    return Some(orig.clone());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(p: &ParsedPrompt) -> Vec<(f64, Option<Axis>)> {
        p.dimensions.iter().map(|d| ((d.mm * 1000.0).round() / 1000.0, d.axis)).collect()
    }

    #[test]
    fn table_of_prompts() {
        use Axis::*;
        struct Case {
            prompt: &'static str,
            text: Option<&'static str>,
            dims: Vec<(f64, Option<Axis>)>,
            counts: Vec<(u32, &'static str)>,
            shape: Option<Shape>,
        }
        let c =
            |prompt, text, dims, counts: Vec<(u32, &'static str)>, shape| Case { prompt, text, dims, counts, shape };
        let cases = vec![
            c("a name tag for Maya", Some("Maya"), vec![], vec![], None),
            c("A Name Tag For Maya Smith please", Some("Maya Smith"), vec![], vec![], None),
            c("a name tag for maya", Some("maya"), vec![], vec![], None),
            c("a pot for my plants", None, vec![], vec![], None),
            c("keychain \"Leo\"", Some("Leo"), vec![], vec![], None),
            c("door sign “Room 12B”", Some("Room 12B"), vec![], vec![], None),
            c("a sign that says Hello World", Some("Hello World"), vec![], vec![], None),
            c("a door sign that says Room 12B with engraved letters", Some("Room 12B"), vec![], vec![], None),
            c("a bookmark saying Keep reading!", Some("Keep reading!"), vec![], vec![], None),
            c("a name tag for Mr. O'Neil", Some("Mr. O'Neil"), vec![], vec![], None),
            c("bookmark with the name Zoë and stars", Some("Zoë"), vec![], vec![], Some(Shape::Star)),
            c("a ruler called 'Sam's ruler'", Some("Sam's ruler"), vec![], vec![], None),
            c("a gear with 20 teeth and a 5 mm hole", None, vec![(5.0, None)], vec![(20, "tooth")], None),
            c("gear with twenty teeth", None, vec![], vec![(20, "tooth")], None),
            c("a cog, thirty-two teeth, module 1.5", None, vec![], vec![(32, "tooth")], None),
            c("a 10 cm twisted vase with 6 sides", None, vec![(100.0, None)], vec![(6, "side")], None),
            c("vase 5 cm tall", None, vec![(50.0, Some(Height))], vec![], None),
            c("a 60mm wide box", None, vec![(60.0, Some(Width))], vec![], None),
            c("coaster 8 cm across", None, vec![(80.0, Some(Diameter))], vec![], None),
            c("coaster 9cm in diameter", None, vec![(90.0, Some(Diameter))], vec![], None),
            c("a pencil cup 4 inches tall", None, vec![(101.6, Some(Height))], vec![], None),
            c("a pencil cup 4\" tall", None, vec![(101.6, Some(Height))], vec![], None),
            c(
                "a box 60 x 40 x 30 mm with lid",
                None,
                vec![(60.0, Some(Width)), (40.0, Some(Depth)), (30.0, Some(Height))],
                vec![],
                None,
            ),
            c("a hexagonal pencil holder", None, vec![], vec![], Some(Shape::Hexagon)),
            c("a heart cookie cutter", None, vec![], vec![], Some(Shape::Heart)),
            c("plant pot with 3 drainage holes", None, vec![], vec![(3, "hole")], None),
            c("height of 12 cm vase", None, vec![(120.0, Some(Height))], vec![], None),
            c("a dice", None, vec![], vec![], None),
            c("a 6-pointed star", None, vec![], vec![(6, "point")], Some(Shape::Star)),
            c("an inch tall tag", None, vec![(25.4, Some(Height))], vec![], None),
            c("ruler 15 cm long", None, vec![(150.0, Some(Length))], vec![], None),
            c("a one hundred and twenty mm long bookmark", None, vec![(120.0, Some(Length))], vec![], None),
            c("phone stand 2.5 cm thick", None, vec![(25.0, Some(Thickness))], vec![], None),
            c("a dragon", None, vec![], vec![], None),
            c("", None, vec![], vec![], None),
        ];
        for case in cases {
            let p = parse(case.prompt);
            assert_eq!(p.text.as_deref(), case.text, "text of {:?}", case.prompt);
            assert_eq!(dims(&p), case.dims, "dims of {:?}", case.prompt);
            let counts: Vec<(u32, &str)> =
                p.counts.iter().filter(|c| c.noun != "module").map(|c| (c.n, c.noun.as_str())).collect();
            assert_eq!(counts, case.counts, "counts of {:?}", case.prompt);
            if case.shape.is_some() {
                assert_eq!(p.shape, case.shape, "shape of {:?}", case.prompt);
            }
        }
    }

    #[test]
    fn styles_flags_and_words() {
        let p = parse("A Twisted, RIBBED vase with a lid and engraved text");
        assert!(p.styles.twisted && p.styles.ribbed && p.styles.engraved && !p.styles.raised);
        assert_eq!(p.flags.lid, Some(true));
        assert!(p.has("vase") && p.has_phrase("engraved text"));
        let p = parse("a box without lid, no hole");
        assert_eq!(p.flags.lid, Some(false));
        assert_eq!(p.flags.hole, Some(false));
        let p = parse("plant pot with drainage");
        assert_eq!(p.flags.drainage, Some(true));
        let p = parse("a vase twisted 90 degrees");
        assert_eq!(p.angles, vec![90.0]);
        let p = parse("a vase twisted 45°");
        assert_eq!(p.angles, vec![45.0]);
        assert_eq!(parse("hexagonal cup").sides(), Some(6));
        assert_eq!(parse("cup with 5 sides").sides(), Some(5));
        assert_eq!(parse("gear module 2").count("module"), Some(2));
        assert_eq!(parse("twenty five").numbers, vec![25.0]);
        assert_eq!(parse("a dozen").numbers, vec![12.0]);
        assert_eq!(parse("1,5 cm").dimensions[0].mm, 15.0);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "\"",
            "''",
            "“",
            "'a",
            "5\"",
            "x x x",
            "1e400 mm",
            "999999999999999999999 teeth",
            "for",
            "says",
            "with the name",
            "🦄🦄",
            "٣ teeth",
            "a\u{0}b",
            "....",
            "1.2.3",
            "- 5 mm",
            "hundred thousand thousand",
            "in in in 5 in in",
        ] {
            let _ = parse(s);
        }
        let long: String = "twenty ".repeat(500);
        let _ = parse(&long);
    }
}
