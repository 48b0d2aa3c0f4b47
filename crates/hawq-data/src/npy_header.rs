//! The Python-dict header of a `.npy` file: a tiny parser for exactly the literal numpy writes
//! (`{'descr': str, 'fortran_order': bool, 'shape': tuple of ints}`) and its formatter.

/// The three fields every `.npy` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    /// Dtype string such as `<f4`.
    pub descr: String,
    /// True for column-major data.
    pub fortran_order: bool,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
}

/// One value of the dict.
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the header text (padding and the final newline included); errors say what is wrong.
pub(crate) fn parse_header(text: &str) -> Result<NpyHeader, String> {
    let mut p = Parser { chars: text.chars().collect(), pos: 0 };
    p.expect('{')?;
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.eat('}') {
            break;
        }
        let key = p.string()?;
        p.expect(':')?;
        let value = p.value()?;
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran_order = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", _) => {
                return Err(format!("key '{key}' has a value of the wrong type"));
            }
            _ => return Err(format!("unexpected key '{key}'")),
        }
        p.skip_ws();
        if !p.eat(',') {
            p.expect('}')?;
            break;
        }
    }
    p.skip_ws();
    if p.pos != p.chars.len() {
        return Err(format!("unexpected text after the dict at character {}", p.pos));
    }
    Ok(NpyHeader {
        descr: descr.ok_or("missing key 'descr'")?,
        fortran_order: fortran_order.ok_or("missing key 'fortran_order'")?,
        shape: shape.ok_or("missing key 'shape'")?,
    })
}

/// Magic, version, length and padded dict for an array of `descr` and `shape`: v1.0 when the
/// header fits a `u16` length, v2.0 otherwise; the total is a multiple of 64 bytes, as numpy does.
pub(crate) fn format_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let padded = |preamble: usize| {
        let unpadded = preamble + dict.len() + 1;
        let mut text = dict.clone();
        text.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        text.push('\n');
        text
    };
    let mut out = b"\x93NUMPY".to_vec();
    let v1 = padded(10);
    if let Ok(len) = u16::try_from(v1.len()) {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(v1.as_bytes());
    } else {
        let v2 = padded(12);
        out.extend_from_slice(&[2, 0]);
        // A shape needing a header above 4 GiB would not fit in memory in the first place.
        out.extend_from_slice(&(v2.len() as u32).to_le_bytes());
        out.extend_from_slice(v2.as_bytes());
    }
    out
}

/// Cursor over the header's characters.
struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    /// Consumes `c` (after whitespace) if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            let found =
                self.chars.get(self.pos).map_or("end of header".into(), |f| format!("'{f}'"));
            Err(format!("expected '{c}' at character {}, found {found}", self.pos))
        }
    }

    /// A Python string literal in single or double quotes (no escapes: numpy never writes any).
    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = match self.chars.get(self.pos) {
            Some(&q @ ('\'' | '"')) => q,
            _ => return Err(format!("expected a quoted string at character {}", self.pos)),
        };
        let start = self.pos + 1;
        let len = self.chars[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or_else(|| format!("unterminated string starting at character {}", self.pos))?;
        self.pos = start + len + 1;
        Ok(self.chars[start..start + len].iter().collect())
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        match self.chars.get(self.pos) {
            Some('\'' | '"') => self.string().map(Value::Str),
            Some('(') => self.tuple().map(Value::Tuple),
            Some(_) => {
                let word = self.word();
                match word.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    _ => Err(format!("unsupported value '{word}' at character {}", self.pos)),
                }
            }
            None => Err("header ends where a value is expected".into()),
        }
    }

    /// A run of identifier or digit characters.
    fn word(&mut self) -> String {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// `()`, `(3,)`, `(2, 3)`, with an optional trailing comma; Python 2's `3L` is accepted.
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(')') {
                return Ok(dims);
            }
            self.skip_ws();
            let at = self.pos;
            let word = self.word();
            let digits = word.strip_suffix('L').unwrap_or(&word);
            let dim = digits
                .parse::<usize>()
                .map_err(|_| format!("shape entry '{word}' at character {at} is not a size"))?;
            dims.push(dim);
            if !self.eat(',') {
                self.expect(')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_numpy_writes() {
        let h = parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }    \n")
            .unwrap();
        assert_eq!(h, NpyHeader { descr: "<f4".into(), fortran_order: false, shape: vec![2, 3] });
        let h =
            parse_header("{\"shape\": (7,), \"descr\": \"|u1\", \"fortran_order\": True}").unwrap();
        assert_eq!(h.shape, vec![7]);
        assert!(h.fortran_order);
        assert_eq!(
            parse_header("{'descr':'<i8','fortran_order':False,'shape':()}").unwrap().shape,
            Vec::<usize>::new()
        );
    }

    #[test]
    fn rejects_malformed_dicts() {
        for bad in [
            "",
            "{'descr': '<f4', 'shape': (2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} trailing",
        ] {
            assert!(parse_header(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn formatted_header_is_64_aligned_and_parses_back() {
        for shape in [vec![], vec![5], vec![2, 3, 4]] {
            let bytes = format_header("<f4", &shape);
            assert_eq!(bytes.len() % 64, 0);
            assert_eq!(&bytes[6..8], &[1, 0]);
            let text = std::str::from_utf8(&bytes[10..]).unwrap();
            assert!(text.ends_with('\n'));
            assert_eq!(parse_header(text).unwrap().shape, shape);
        }
        // 10,000 dims of "1000000, " need more than 64 KiB: version 2.0.
        let big = format_header("<f4", &vec![1_000_000; 10_000]);
        assert_eq!(&big[6..8], &[2, 0]);
        assert_eq!(big.len() % 64, 0);
    }
}
