//! Taking over the terminal and giving it back on every path: normal exit, errors
//! (a drop guard), panics (a hook that restores, then runs the previous hook) and
//! suspend (Ctrl-Z: restore, stop with SIGTSTP, take over again on `fg`).

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::{Frame, Terminal};

/// The terminal is in raw mode on the alternate screen (ours to give back).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The full-screen terminal. Dropping it restores the terminal.
pub struct Session {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    mouse: bool,
}

impl Session {
    pub fn start(mouse: bool) -> io::Result<Self> {
        install_panic_hook();
        enter(mouse)?;
        let guard = Restore;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        std::mem::forget(guard);
        Ok(Session { terminal, mouse })
    }

    pub fn draw(&mut self, render: impl FnOnce(&mut Frame)) -> io::Result<()> {
        self.terminal.draw(render).map(|_| ())
    }

    pub fn size(&self) -> io::Result<ratatui::layout::Rect> {
        let size = self.terminal.size()?;
        Ok(ratatui::layout::Rect::new(0, 0, size.width, size.height))
    }

    pub fn set_mouse(&mut self, on: bool) -> io::Result<()> {
        self.mouse = on;
        let mut out = io::stdout();
        if on {
            execute!(out, EnableMouseCapture)
        } else {
            execute!(out, DisableMouseCapture)
        }
    }

    /// Ctrl-Z: gives the terminal back, stops proctor like any job (workers keep
    /// running: they are in their own process groups), and takes over on resume.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore();
        // SAFETY: raise() only sends a signal to this process; SIGTSTP's default
        // action stops it until SIGCONT, then execution continues here.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
        enter(self.mouse)?;
        // A resize clears the screen and forgets the last frame, so the next draw
        // repaints everything (without querying the cursor, which would race the
        // input thread).
        let area = self.size()?;
        self.terminal.resize(area)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores on drop unless forgotten (for the steps of `Session::start`).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

fn enter(mouse: bool) -> io::Result<()> {
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = Restore;
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        cursor::Hide
    )?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    std::mem::forget(guard);
    Ok(())
}

/// Gives the terminal back (idempotent, best effort: it runs on error paths).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal before the panic message prints, then runs the previous
/// hook (so the message and backtrace land on a usable terminal).
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
