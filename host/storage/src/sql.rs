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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        assert_eq!(placeholders(3, 2), "$2, $3, $4");
        assert_eq!(value_rows(2, &["$1", "?", "$2"], 3), "($1, $3, $2), ($1, $4, $2)");
        assert_eq!(value_rows(2, &["?", "f('x', ?)"], 1), "($1, f('x', $2)), ($3, f('x', $4))");
    }
}
