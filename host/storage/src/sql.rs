//! Helpers for building statements with a variable number of rows.

/// `$first, $first+1, …` for `count` values.
pub fn placeholders(count: usize, first: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `(…), (…)` rows for a multi-row `VALUES`: each row is `columns`, where
/// a fixed `$n` is repeated in every row and each `?` (alone or inside an
/// expression such as `lower(?)`) becomes the next numbered placeholder,
/// starting at `first`.
pub fn value_rows(rows: usize, columns: &[&str], first: usize) -> String {
    let mut next = first;
    let mut out = Vec::with_capacity(rows);
    for _ in 0..rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|cell| {
                let mut text = String::with_capacity(cell.len() + 4);
                for c in cell.chars() {
                    if c == '?' {
                        text.push_str(&format!("${next}"));
                        next += 1;
                    } else {
                        text.push(c);
                    }
                }
                text
            })
            .collect();
        out.push(format!("({})", cells.join(", ")));
    }
    out.join(", ")
}

/// A subquery listing the strings of a JSON array bound as `$param`.
///
/// One bound value stands for a list of any length, so the statement text
/// is the same whatever the length (prepared once and cached), and SQLite
/// does not look up dozens of bound values by name, which it does by
/// scanning all of them each time.
pub fn json_text_list(backend: crate::Backend, param: usize) -> String {
    match backend {
        crate::Backend::Sqlite => format!("SELECT value FROM json_each(${param})"),
        crate::Backend::Postgres => format!("SELECT json_array_elements_text(${param}::json)"),
    }
}

/// The JSON array text to bind for [`json_text_list`].
pub fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::from(items.iter().map(|item| item.as_ref()).collect::<Vec<_>>()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        assert_eq!(placeholders(3, 2), "$2, $3, $4");
        assert_eq!(value_rows(2, &["$1", "?", "$2"], 3), "($1, $3, $2), ($1, $4, $2)");
        assert_eq!(value_rows(2, &["?", "f('x', ?)"], 1), "($1, f('x', $2)), ($3, f('x', $4))");
    }

    #[test]
    fn json_lists_keep_every_character() {
        let ids = ["$a\"b", "!r:s\\x", "@ü:s"];
        let text = json_list(&ids);
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ids);
        assert_eq!(json_list::<&str>(&[]), "[]");
        assert_eq!(json_text_list(crate::Backend::Sqlite, 3), "SELECT value FROM json_each($3)");
    }
}
