//! The slice of SOQL the simulator understands: `SELECT <fields> FROM <object>
//! [WHERE <field> <op> <literal> [AND …]] [GROUP BY <field>] [ORDER BY …] [LIMIT n]`,
//! with quoted strings (and their escapes), datetime literals, booleans and `null`.
//! Anything else is Salesforce's `MALFORMED_QUERY`.

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    /// The select list, as written (trimmed).
    pub fields: Vec<String>,
    /// The object after `FROM`.
    pub object: String,
    /// `WHERE` conditions, all joined by `AND`.
    pub conds: Vec<Cond>,
    /// The `GROUP BY` field.
    pub group_by: Option<String>,
}

/// One `field op literal` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cond {
    /// The field name.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The literal.
    pub value: Lit,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lit {
    Str(String),
    DateTime(i64),
    Bool(bool),
    Null,
}

impl Op {
    /// Applies the operator to an ordering.
    pub(crate) fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Op::Eq => ord == Equal,
            Op::Ne => ord != Equal,
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Ge => ord != Less,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Op(Op),
    Comma,
}

/// Parses a query; `Err` carries Salesforce's message.
pub(crate) fn parse(q: &str) -> Result<Query, String> {
    let q = q.trim();
    let upper = q.to_ascii_uppercase();
    if !upper.starts_with("SELECT ") {
        return Err("unexpected token: expected SELECT".to_owned());
    }
    let from = find_word(&upper, " FROM ").ok_or("unexpected token: expected FROM")?;
    let fields: Vec<String> = q[7..from].split(',').map(|f| f.trim().to_owned()).collect();
    if fields.iter().any(String::is_empty) {
        return Err("unexpected token: ','".to_owned());
    }
    let toks = tokenize(&q[from + 6..])?;
    let mut it = toks.into_iter().peekable();
    let object = match it.next() {
        Some(Tok::Word(w)) => w,
        _ => return Err("unexpected token: expected an object after FROM".to_owned()),
    };
    let mut query = Query {
        fields,
        object,
        conds: Vec::new(),
        group_by: None,
    };
    let kw =
        |t: Option<&Tok>, k: &str| matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k));
    if kw(it.peek(), "WHERE") {
        it.next();
        loop {
            let field = match it.next() {
                Some(Tok::Word(w)) => w,
                other => return Err(format!("unexpected token: {other:?}")),
            };
            let op = match it.next() {
                Some(Tok::Op(op)) => op,
                other => return Err(format!("unexpected token: {other:?}")),
            };
            let value = match it.next() {
                Some(Tok::Str(s)) => Lit::Str(s),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Lit::Null,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Lit::Bool(true),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Lit::Bool(false),
                Some(Tok::Word(w)) => {
                    Lit::DateTime(datetime(&w).ok_or_else(|| format!("unexpected token: '{w}'"))?)
                }
                other => return Err(format!("unexpected token: {other:?}")),
            };
            query.conds.push(Cond { field, op, value });
            if kw(it.peek(), "AND") {
                it.next();
            } else {
                break;
            }
        }
    }
    if kw(it.peek(), "GROUP") {
        it.next();
        if !kw(it.next().as_ref(), "BY") {
            return Err("unexpected token: expected BY".to_owned());
        }
        match it.next() {
            Some(Tok::Word(w)) => query.group_by = Some(w),
            other => return Err(format!("unexpected token: {other:?}")),
        }
    }
    if kw(it.peek(), "ORDER") {
        it.next();
        if !kw(it.next().as_ref(), "BY") {
            return Err("unexpected token: expected BY".to_owned());
        }
        // The simulator always serves its own stable order; the list is only checked.
        while let Some(t) = it.peek() {
            match t {
                Tok::Word(w) if w.eq_ignore_ascii_case("LIMIT") => break,
                Tok::Word(_) | Tok::Comma => {
                    it.next();
                }
                other => return Err(format!("unexpected token: {other:?}")),
            }
        }
    }
    if kw(it.peek(), "LIMIT") {
        it.next();
        match it.next() {
            Some(Tok::Word(n)) if n.parse::<u32>().is_ok() => {}
            other => return Err(format!("unexpected token: {other:?}")),
        }
    }
    if let Some(t) = it.next() {
        return Err(format!("unexpected token: {t:?}"));
    }
    Ok(query)
}

/// The byte offset of `needle` (upper case, padded with spaces) outside quotes.
fn find_word(upper: &str, needle: &str) -> Option<usize> {
    let bytes = upper.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'\'' => quoted = !quoted,
            _ if !quoted && upper[i..].starts_with(needle) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '\'' {
            let mut lit = String::new();
            i += 1;
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err("unterminated string literal".to_owned());
                };
                i += 1;
                match c {
                    '\'' => break,
                    '\\' => {
                        let e = chars.get(i).copied().ok_or("bad escape")?;
                        i += 1;
                        lit.push(match e {
                            'n' | 'N' => '\n',
                            'r' | 'R' => '\r',
                            't' | 'T' => '\t',
                            'b' | 'B' => '\u{8}',
                            'f' | 'F' => '\u{c}',
                            '"' | '\'' | '\\' => e,
                            'u' => {
                                let hex: String =
                                    chars.get(i..i + 4).ok_or("bad escape")?.iter().collect();
                                i += 4;
                                u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .ok_or("bad escape")?
                            }
                            _ => return Err(format!("invalid escape sequence: \\{e}")),
                        });
                    }
                    c => lit.push(c),
                }
            }
            out.push(Tok::Str(lit));
        } else if "=!<>".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (op, n) = match two.as_str() {
                "!=" | "<>" => (Op::Ne, 2),
                "<=" => (Op::Le, 2),
                ">=" => (Op::Ge, 2),
                _ => match c {
                    '=' => (Op::Eq, 1),
                    '<' => (Op::Lt, 1),
                    '>' => (Op::Gt, 1),
                    _ => return Err(format!("unexpected token: '{c}'")),
                },
            };
            out.push(Tok::Op(op));
            i += n;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !",'=!<>".contains(chars[i]) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        }
    }
    Ok(out)
}

/// A SOQL datetime literal (`2023-02-07T16:11:09Z`, optional `.sss` and `±hh:mm`).
pub(crate) fn datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" => 0,
        _ if rest.len() == 6 => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (num(s.len() - 5..s.len() - 3)? * 3600 + num(s.len() - 2..s.len())? * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_connector_queries() {
        let q = parse(
            "SELECT DeleteToken FROM OauthToken WHERE UserId = '005x' AND AppName = 'Bob\\'s \\\\ App' AND CreatedDate = 2023-02-07T16:11:09Z",
        )
        .expect("parses");
        assert_eq!(q.object, "OauthToken");
        assert_eq!(q.fields, ["DeleteToken"]);
        assert_eq!(q.conds.len(), 3);
        assert_eq!(q.conds[1].value, Lit::Str("Bob's \\ App".to_owned()));
        assert_eq!(q.conds[2].value, Lit::DateTime(1_675_786_269));
        let g = parse("SELECT AppName, COUNT(UserId) FROM OauthToken GROUP BY AppName").expect("g");
        assert_eq!(g.group_by.as_deref(), Some("AppName"));
        assert_eq!(g.fields, ["AppName", "COUNT(UserId)"]);
        let o = parse("SELECT Id, Name FROM ConnectedApplication ORDER BY Name").expect("o");
        assert!(o.conds.is_empty());
        let w = parse("SELECT Id FROM AppMenuItem WHERE Type = 'ConnectedApplication'").expect("w");
        assert_eq!(w.conds[0].field, "Type");
        for bad in [
            "SELECT FROM",
            "DELETE FROM OauthToken",
            "SELECT Id FROM OauthToken WHERE AppName = 'x",
            "SELECT Id FROM OauthToken WHERE AppName = 'x' OR UserId = 'y'",
            "SELECT Id FROM OauthToken WHERE AppName = '\\q'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(datetime("2023-02-07T16:11:09.000+0000"), None);
        assert_eq!(datetime("2023-02-07T09:11:09-07:00"), Some(1_675_786_269));
        assert_eq!(datetime("1970-01-01T00:00:00Z"), Some(0));
    }
}
