//! The line typed into a prompt (filter, search, jump): readline keys over `tui-input`'s
//! editing, and one history per prompt, walked with Up and Down.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::{Input, InputRequest};

use crate::app::Prompt;

/// Entries kept per prompt; the oldest go first.
const HISTORY: usize = 100;

#[derive(Clone, Debug, Default)]
pub struct LineEditor {
    line: Input,
    /// Accepted lines per prompt (index: `Prompt as usize`), oldest first.
    history: [Vec<String>; 3],
    /// While walking the history: the entry shown, and the line typed before the walk.
    walk: Option<(usize, String)>,
}

/// What a key did to the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The text changed (typed, deleted, or recalled from the history).
    Changed,
    /// Only the cursor moved, or nothing happened.
    Unchanged,
    /// Not an editing key: the caller decides (Enter, Esc, ...).
    Ignored,
}

/// The editing request of a key, as readline (emacs mode) binds it.
fn request(key: KeyEvent) -> Option<InputRequest> {
    use InputRequest::*;
    use KeyCode::*;
    let m = key.modifiers;
    let ctrl = m.contains(KeyModifiers::CONTROL);
    // Terminals send Alt as ESC prefix; crossterm reports it as ALT (META with the kitty
    // protocol).
    let alt = m.intersects(KeyModifiers::ALT | KeyModifiers::META);
    Some(match key.code {
        Left if ctrl => GoToPrevWord,
        Right if ctrl => GoToNextWord,
        Left => GoToPrevChar,
        Right => GoToNextChar,
        Home => GoToStart,
        End => GoToEnd,
        Backspace if alt || ctrl => DeletePrevWord,
        Backspace => DeletePrevChar,
        Delete => DeleteNextChar,
        Char(c) if ctrl => match c {
            'a' => GoToStart,
            'e' => GoToEnd,
            'b' => GoToPrevChar,
            'f' => GoToNextChar,
            'u' => DeleteFromStart,
            'k' => DeleteTillEnd,
            'h' => DeletePrevChar,
            'd' => DeleteNextChar,
            'y' => Yank,
            _ => return None,
        },
        Char(c) if alt => match c {
            'b' => GoToPrevWord,
            'f' => GoToNextWord,
            'd' => DeleteNextWord,
            _ => return None,
        },
        Char(c) => InsertChar(c),
        _ => return None,
    })
}

impl LineEditor {
    /// Starts editing `text` for `prompt`, the cursor at its end.
    pub fn open(&mut self, text: &str) {
        self.line = Input::new(text.to_string());
        self.walk = None;
    }

    pub fn text(&self) -> &str {
        self.line.value()
    }

    /// The cursor's position in characters from the start of the text.
    pub fn cursor(&self) -> usize {
        self.line.cursor()
    }

    /// Applies an editing or history key. `accept` says whether a typed character belongs
    /// in this prompt (digits only for a packet ID).
    pub fn key(&mut self, prompt: Prompt, key: KeyEvent, accept: impl Fn(char) -> bool) -> Edit {
        match key.code {
            KeyCode::Up => return self.recall(prompt, true),
            KeyCode::Down => return self.recall(prompt, false),
            KeyCode::Char('p') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return self.recall(prompt, true)
            }
            KeyCode::Char('n') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return self.recall(prompt, false)
            }
            KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return self.rubout_word();
            }
            _ => {}
        }
        let Some(req) = request(key) else {
            return Edit::Ignored;
        };
        if matches!(req, InputRequest::InsertChar(c) if !accept(c)) {
            return Edit::Unchanged;
        }
        match self.line.handle(req) {
            Some(s) if s.value => {
                // Typing leaves the history: the next Up starts from the newest entry.
                self.walk = None;
                Edit::Changed
            }
            _ => Edit::Unchanged,
        }
    }

    /// Ctrl-W as readline's unix-word-rubout: back to the previous blank, so `netns=b`
    /// goes as one term (Alt-Backspace deletes by words, stopping at `=`).
    fn rubout_word(&mut self) -> Edit {
        let chars: Vec<char> = self.line.value().chars().collect();
        let cur = self.line.cursor();
        let mut start = cur;
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        if start == cur {
            return Edit::Unchanged;
        }
        let text: String = chars[..start].iter().chain(&chars[cur..]).collect();
        self.line = Input::new(text).with_cursor(start);
        self.walk = None;
        Edit::Changed
    }

    /// Up (`older`) or Down through the prompt's history, skipping entries equal to the
    /// line shown; Down past the newest brings back what was typed before.
    fn recall(&mut self, prompt: Prompt, older: bool) -> Edit {
        let hist = &self.history[prompt as usize];
        let shown = self.line.value().to_string();
        let start = self.walk.as_ref().map_or(hist.len(), |w| w.0);
        let next = if older {
            (0..start).rev().find(|&i| hist[i] != shown)
        } else {
            (start + 1..hist.len()).find(|&i| hist[i] != shown)
        };
        let text = match (next, older) {
            (Some(i), _) => {
                let draft = self.walk.take().map_or(shown, |w| w.1);
                let text = hist[i].clone();
                self.walk = Some((i, draft));
                text
            }
            (None, false) => match self.walk.take() {
                Some((_, draft)) => draft,
                None => return Edit::Unchanged,
            },
            (None, true) => return Edit::Unchanged,
        };
        self.line = Input::new(text);
        Edit::Changed
    }

    /// Enter accepted the line: it becomes the prompt's newest history entry.
    pub fn remember(&mut self, prompt: Prompt) {
        let text = self.line.value().trim().to_string();
        let hist = &mut self.history[prompt as usize];
        self.walk = None;
        if text.is_empty() || hist.last() == Some(&text) {
            return;
        }
        hist.retain(|h| *h != text);
        hist.push(text);
        if hist.len() > HISTORY {
            hist.remove(0);
        }
    }

    /// The prompt's history, oldest first.
    pub fn history(&self, prompt: Prompt) -> &[String] {
        &self.history[prompt as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(e: &mut LineEditor, code: KeyCode, m: KeyModifiers) -> Edit {
        e.key(Prompt::Filter, KeyEvent::new(code, m), |_| true)
    }

    fn typed(e: &mut LineEditor, s: &str) {
        for c in s.chars() {
            key(e, KeyCode::Char(c), KeyModifiers::NONE);
        }
    }

    const CTRL: KeyModifiers = KeyModifiers::CONTROL;
    const ALT: KeyModifiers = KeyModifiers::ALT;

    #[test]
    fn readline_keys_edit_at_the_cursor() {
        let mut e = LineEditor::default();
        e.open("udp");
        key(&mut e, KeyCode::Home, KeyModifiers::NONE);
        typed(&mut e, "!");
        assert_eq!((e.text(), e.cursor()), ("!udp", 1));
        key(&mut e, KeyCode::Char('e'), CTRL);
        typed(&mut e, " dport=53");
        key(&mut e, KeyCode::Char('w'), CTRL);
        assert_eq!(e.text(), "!udp ", "Ctrl-W: back to the blank, a whole term");
        typed(&mut e, "dport=53");
        key(&mut e, KeyCode::Backspace, ALT);
        assert_eq!(e.text(), "!udp dport=", "Alt-Backspace: one word");
        key(&mut e, KeyCode::Char('b'), ALT);
        assert_eq!(e.cursor(), 5);
        key(&mut e, KeyCode::Char('k'), CTRL);
        assert_eq!(e.text(), "!udp ");
        key(&mut e, KeyCode::Left, KeyModifiers::NONE);
        key(&mut e, KeyCode::Char('u'), CTRL);
        assert_eq!((e.text(), e.cursor()), (" ", 0));
        key(&mut e, KeyCode::Delete, KeyModifiers::NONE);
        typed(&mut e, "tcp");
        key(&mut e, KeyCode::Char('a'), CTRL);
        key(&mut e, KeyCode::Char('f'), ALT);
        assert_eq!(e.cursor(), 3);
        assert_eq!(
            key(&mut e, KeyCode::Enter, KeyModifiers::NONE),
            Edit::Ignored
        );
    }

    #[test]
    fn up_and_down_walk_the_prompts_own_history() {
        let mut e = LineEditor::default();
        for h in ["udp", "tcp", "drop"] {
            e.open(h);
            e.remember(Prompt::Filter);
        }
        e.open("42");
        e.remember(Prompt::Jump);
        // The bar opens on the current filter ("drop"): Up skips the entry equal to it.
        e.open("drop");
        key(&mut e, KeyCode::Up, KeyModifiers::NONE);
        assert_eq!(e.text(), "tcp");
        key(&mut e, KeyCode::Up, KeyModifiers::NONE);
        assert_eq!(e.text(), "udp");
        assert_eq!(
            key(&mut e, KeyCode::Up, KeyModifiers::NONE),
            Edit::Unchanged
        );
        key(&mut e, KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(e.text(), "tcp");
        key(&mut e, KeyCode::Down, KeyModifiers::NONE);
        key(&mut e, KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(e.text(), "drop", "back to the line typed before the walk");
        // Re-accepting an entry moves it to the newest place, once.
        e.open("udp");
        e.remember(Prompt::Filter);
        assert_eq!(e.history(Prompt::Filter), ["tcp", "drop", "udp"]);
        assert_eq!(e.history(Prompt::Jump), ["42"]);
    }
}
