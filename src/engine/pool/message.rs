//! The pool protocol's lines: tasks as written to a worker, results as read
//! back. Worker lines are untrusted: anything unexpected is `Invalid`, never a
//! panic, and messages quote only a short, neutralised preview.

use serde_json::{Value, json};

use crate::spec::pool::Protocol;

/// What one line from a worker's result pipe means.
#[derive(Debug, PartialEq)]
pub enum Message {
    /// `{"ready": true}`: initialised, give it tasks.
    Ready,
    /// `{"recycle": true}`: replace it after its current task.
    Recycle,
    /// A task's result: `value` is the output when `ok`, else the error.
    Result {
        id: Option<String>,
        ok: bool,
        value: Value,
    },
    Invalid(&'static str),
}

/// The line that gives a worker a task (newline included).
pub fn task_line(protocol: Protocol, id: &str, input: &Value) -> Vec<u8> {
    let mut line = match protocol {
        Protocol::Jsonl => json!({"id": id, "input": input}).to_string().into_bytes(),
        Protocol::Lines => line_text(input).into_bytes(),
    };
    line.push(b'\n');
    line
}

/// A task's input as a `lines` worker gets it: a string as it is, else its JSON.
pub fn line_text(input: &Value) -> String {
    match input {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn parse(protocol: Protocol, line: &str) -> Message {
    if protocol == Protocol::Lines {
        return Message::Result {
            id: None,
            ok: true,
            value: Value::String(line.to_string()),
        };
    }
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(line) else {
        return Message::Invalid("not a JSON object");
    };
    if map.get("ready") == Some(&Value::Bool(true)) {
        return Message::Ready;
    }
    if map.get("recycle") == Some(&Value::Bool(true)) {
        return Message::Recycle;
    }
    let id = match map.remove("id") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Message::Invalid("no \"id\""),
    };
    match map.remove("ok") {
        Some(Value::Bool(true)) => Message::Result {
            id: Some(id),
            ok: true,
            value: map.remove("output").unwrap_or(Value::Null),
        },
        Some(Value::Bool(false)) => Message::Result {
            id: Some(id),
            ok: false,
            value: map.remove("error").unwrap_or(Value::Null),
        },
        _ => Message::Invalid("no \"ok\": true or false"),
    }
}

/// The start of an untrusted line, safe to show.
pub fn preview(line: &str) -> String {
    let cut: String = line.chars().take(80).collect();
    let mut shown: String = cut
        .chars()
        .map(|c| {
            if c.is_control() || crate::json_safe::is_unsafe(c) {
                '?'
            } else {
                c
            }
        })
        .collect();
    if cut.len() < line.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_ready_and_recycle_are_told_apart() {
        let p = Protocol::Jsonl;
        assert_eq!(parse(p, r#"{"ready": true}"#), Message::Ready);
        assert_eq!(parse(p, r#"{"recycle": true}"#), Message::Recycle);
        assert_eq!(
            parse(p, r#"{"id": "7", "ok": true, "output": [1]}"#),
            Message::Result {
                id: Some("7".into()),
                ok: true,
                value: json!([1])
            }
        );
        assert_eq!(
            parse(p, r#"{"id": 7, "ok": false, "error": "bad"}"#),
            Message::Result {
                id: Some("7".into()),
                ok: false,
                value: json!("bad")
            }
        );
        assert!(matches!(parse(p, "hello"), Message::Invalid(_)));
        assert!(matches!(parse(p, r#"{"id": "1"}"#), Message::Invalid(_)));
    }

    #[test]
    fn task_lines_carry_id_and_input() {
        let line = task_line(Protocol::Jsonl, "3", &json!({"x": 1}));
        assert_eq!(line, b"{\"id\":\"3\",\"input\":{\"x\":1}}\n");
        assert_eq!(task_line(Protocol::Lines, "3", &json!("a b")), b"a b\n");
    }
}
