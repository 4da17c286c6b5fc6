//! Messages for people from the map driver (a halt, a broken joblog, skipped
//! tasks): on stderr at once, or, while the terminal UI owns the screen, held
//! until the terminal is restored.

pub struct Notes {
    /// `Some` while held for later.
    held: Option<Vec<String>>,
}

impl Notes {
    /// Written to stderr as they come (headless).
    pub fn stderr() -> Self {
        Notes { held: None }
    }

    /// Kept for `into_held` (under the terminal UI).
    pub fn held() -> Self {
        Notes {
            held: Some(Vec::new()),
        }
    }

    /// True when nothing reaches stderr now: a front end must show it otherwise.
    pub fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// One message, without the `proctor: ` prefix.
    pub fn say(&mut self, text: String) {
        match &mut self.held {
            Some(held) => held.push(text),
            None => eprintln!("proctor: {text}"),
        }
    }

    /// What was held, in order.
    pub fn into_held(self) -> Vec<String> {
        self.held.unwrap_or_default()
    }
}
