//! The workers table: one row per worker, coloured by state, sorted and filtered by
//! the app state. Only the rows on screen are built, so thousands of workers cost
//! no more than a screenful.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Cell, Paragraph, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table, TableState,
};

use super::app::{App, Focus};
use super::draw::{cursor_on_bottom_border, panel, title};
use super::format;
use super::worker_list::visible_offset;
use crate::engine::{Snapshot, WorkerState, WorkerView};

/// What a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mark,
    Name,
    Pid,
    State,
    /// Markers beside the state: stuck, zombie children, unkillable.
    Flags,
    Cpu,
    Mem,
    Time,
    Exit,
    Restarts,
}

/// A column: what it shows and how wide it is.
#[derive(Debug, Clone, Copy)]
struct Column {
    kind: Kind,
    width: u16,
}

impl Column {
    fn header(&self, tree: bool) -> &'static str {
        match self.kind {
            Kind::Mark => "",
            Kind::Name => "NAME",
            Kind::Pid => "PID",
            Kind::State => "STATE",
            Kind::Flags => "FLAGS",
            Kind::Cpu if tree => "CPU%⊕",
            Kind::Cpu => "CPU%",
            Kind::Mem if tree => "MEM⊕",
            Kind::Mem => "MEM",
            Kind::Time => "TIME",
            Kind::Exit => "EXIT",
            Kind::Restarts => "RST",
        }
    }

    fn right(&self) -> bool {
        matches!(
            self.kind,
            Kind::Pid | Kind::Cpu | Kind::Mem | Kind::Time | Kind::Restarts
        )
    }
}

/// How wide the visible rows' texts are, so columns fit what they show.
#[derive(Debug, Clone, Copy)]
struct Needs {
    name: u16,
    pid: u16,
    state: u16,
    /// 0 when no visible worker has a marker: the column is left out.
    flags: u16,
    exit: u16,
}

/// The narrowest a name or state column gets before optional columns go.
const NAME_MIN: u16 = 6;
const STATE_MIN: u16 = 9;

/// The columns that fit in `width`, in order, and the width left for the last
/// output. The PID is never cut: it is sized to the widest PID shown and kept;
/// optional columns go first (restarts, time, exit code, memory, CPU), then the
/// name and state columns shrink.
fn columns(width: u16, needs: Needs) -> (Vec<Column>, Option<u16>) {
    let c = |kind, width| Column { kind, width };
    let state_want = needs.state.clamp(STATE_MIN, 22);
    let name_want = needs.name.clamp(NAME_MIN, 28);
    let mut cols = vec![
        c(Kind::Mark, 1),
        c(Kind::Name, NAME_MIN),
        c(Kind::Pid, needs.pid.max(3)),
        c(Kind::State, STATE_MIN),
    ];
    let used = |cols: &[Column]| cols.iter().map(|c| c.width + 1).sum::<u16>();
    // Optional columns by importance, each kept only if it fits.
    let mut optional = Vec::new();
    if needs.flags > 0 {
        optional.push(c(Kind::Flags, needs.flags.clamp(5, 20)));
    }
    optional.extend([
        c(Kind::Cpu, 5),
        c(Kind::Mem, 6),
        c(Kind::Exit, needs.exit.clamp(4, 13)),
        c(Kind::Time, 7),
    ]);
    if width >= 100 {
        optional.push(c(Kind::Restarts, 3));
    }
    for col in optional {
        if used(&cols) + col.width < width {
            cols.push(col);
        }
    }
    cols.sort_by_key(|c| c.kind as u8);
    // What is left widens the state, then the name, then the last output.
    let mut left = width.saturating_sub(used(&cols));
    for (kind, want) in [(Kind::State, state_want), (Kind::Name, name_want)] {
        if let Some(col) = cols.iter_mut().find(|c| c.kind == kind) {
            let grow = want.saturating_sub(col.width).min(left);
            col.width += grow;
            left -= grow;
        }
    }
    // Narrower than even the kept columns: the name and state give way, never the PID.
    let mut over = used(&cols).saturating_sub(width);
    for kind in [Kind::Name, Kind::State] {
        if let Some(col) = cols.iter_mut().find(|c| c.kind == kind) {
            let shrink = over.min(col.width.saturating_sub(1));
            col.width -= shrink;
            over -= shrink;
        }
    }
    let last = (left > 12).then_some(left - 1);
    (cols, last)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let list = &app.workers;
    let focused = app.focus == Focus::Workers;
    let mut extra = vec![Span::styled(
        format!("{}/{} ", list.order.len(), snapshot.workers.len()),
        t.dim(),
    )];
    if !list.marked.is_empty() {
        extra.push(Span::styled(
            format!("· {} marked ", list.marked.len()),
            t.marked(),
        ));
    }
    for pool in &snapshot.pools {
        let style = if pool.state == "failing" {
            t.error()
        } else {
            t.dim()
        };
        extra.push(Span::styled(
            pool_summary(pool, app.pool_rates.describe(pool)),
            style,
        ));
    }
    let mut block = panel(title("Workers", focused, t, extra), focused, t);
    let sort = Line::from(Span::styled(
        format!(
            " sort: {} {} ",
            list.sort.label(list.tree),
            list.sort.direction(list.reverse)
        ),
        t.dim(),
    ));
    block = block.title(sort.alignment(Alignment::Right));
    if list.filtering || !list.filter.is_empty() {
        let (text, cursor) = list
            .filter
            .view(area.width.saturating_sub(16).max(1), t.accent());
        let mut spans = vec![Span::styled(" filter: ", t.bold())];
        spans.extend(text.spans);
        spans.push(Span::raw(" "));
        block = block.title_bottom(Line::from(spans));
        if list.filtering {
            cursor_on_bottom_border(frame, area, 10 + cursor);
        }
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    if snapshot.workers.is_empty() {
        let hint = if app.map.is_some() {
            Line::from(Span::styled("No task has started yet.", t.dim()))
        } else {
            Line::from(vec![
                Span::styled("No workers yet. Press ", t.dim()),
                Span::styled(" n ", t.key()),
                Span::styled(" to launch one.", t.dim()),
            ])
        };
        let y = inner.y + inner.height / 2;
        let row = Rect {
            y,
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(hint).alignment(Alignment::Center), row);
        return;
    }
    let rows_height = inner.height.saturating_sub(1) as usize;
    let offset = visible_offset(list.cursor, list.offset, rows_height, list.order.len());
    let visible: Vec<&WorkerView> = list
        .order
        .iter()
        .skip(offset)
        .take(rows_height)
        .filter_map(|&i| snapshot.workers.get(i))
        .collect();
    let widest =
        |f: &dyn Fn(&WorkerView) -> usize| visible.iter().map(|w| f(w)).max().unwrap_or(0) as u16;
    let needs = Needs {
        name: widest(&|w| w.name.chars().count()),
        pid: widest(&|w| w.pid.map_or(0, |p| p.to_string().len())),
        state: widest(&|w| format::state(w, app.now, app.restart_at(w)).chars().count()),
        flags: widest(&|w| format::flags(w).chars().count()),
        exit: widest(&|w| format::exit_code(w).chars().count()),
    };
    let (cols, last) = columns(inner.width, needs);
    let mut widths: Vec<Constraint> = cols.iter().map(|c| Constraint::Length(c.width)).collect();
    let mut header: Vec<Cell> = cols
        .iter()
        .map(|c| header_cell(c.header(list.tree), c.width, c.right()))
        .collect();
    if let Some(w) = last {
        widths.push(Constraint::Length(w));
        header.push(Cell::from("LAST OUTPUT"));
    }
    let rows = visible.iter().map(|w| {
        let doing = pool_worker(snapshot, &w.name)
            .filter(|_| w.state.is_active())
            .map(pool_line);
        row(w, app, &cols, last.is_some(), doing)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.table_header()))
        .column_spacing(1)
        .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(
        list.cursor
            .checked_sub(offset)
            .filter(|&s| s < visible.len()),
    );
    frame.render_stateful_widget(table, inner, &mut state);
    if list.order.len() > rows_height {
        let mut bar =
            ScrollbarState::new(list.order.len().saturating_sub(rows_height)).position(offset);
        let bar_area = area.inner(Margin {
            horizontal: 0,
            vertical: 1,
        });
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight).style(t.dim()),
            bar_area,
            &mut bar,
        );
    }
}

fn header_cell(name: &'static str, width: u16, right: bool) -> Cell<'static> {
    if right {
        Cell::from(Line::from(format!("{name:>w$}", w = width as usize)))
    } else {
        Cell::from(name)
    }
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

/// `· pool NAME: Q queued, R running, D done, F failed (35.0/s, ETA 0:12)` for
/// the panel's title; the rate once a few snapshots show one.
fn pool_summary(p: &crate::engine::snapshot::PoolView, rate: Option<String>) -> String {
    let failing = if p.state == "failing" { " FAILING" } else { "" };
    let rate = rate.map(|r| format!(" ({r})")).unwrap_or_default();
    format!(
        "· pool {}{failing}: {} queued, {} running, {} done, {} failed{rate} ",
        format::safe(&p.name),
        p.queued,
        p.running,
        p.done,
        p.failed
    )
}

fn pool_worker<'a>(
    snapshot: &'a Snapshot,
    name: &str,
) -> Option<&'a crate::engine::snapshot::PoolWorkerView> {
    snapshot
        .pools
        .iter()
        .flat_map(|p| &p.workers)
        .find(|w| w.worker == name)
}

/// What a pool worker does, where another worker shows its last line.
fn pool_line(p: &crate::engine::snapshot::PoolWorkerView) -> String {
    match (&p.task, p.task_age) {
        (Some(task), Some(age)) => format!(
            "served {} · task {} for {}",
            p.served,
            format::safe(task),
            format::duration(age)
        ),
        _ if !p.ready => "starting (not ready yet)".into(),
        _ => format!("served {} · idle", p.served),
    }
}

/// One worker's row; `doing` replaces its last line (a pool worker's task).
fn row<'a>(
    w: &'a WorkerView,
    app: &App,
    cols: &[Column],
    last: bool,
    doing: Option<String>,
) -> Row<'a> {
    let t = &app.theme;
    let tree = app.workers.tree;
    let marked = app.workers.marked.contains(&w.id);
    let state_style = t.state(w);
    let name_style = if marked { t.marked() } else { t.text() };
    let mut cells: Vec<Cell> = cols
        .iter()
        .map(|c| match c.kind {
            Kind::Mark => Cell::from(if marked {
                Span::styled("●", t.marked())
            } else {
                Span::raw(" ")
            }),
            Kind::Name => Cell::from(Span::styled(format::safe(&w.name), name_style)),
            Kind::Pid => right(w.pid.map(|p| p.to_string()).unwrap_or_default()),
            Kind::State => Cell::from(Span::styled(
                format::state(w, app.now, app.restart_at(w)),
                state_style,
            )),
            Kind::Flags => Cell::from(Span::styled(format::flags(w), t.warn())),
            Kind::Cpu => right(format::cpu(w, tree)),
            Kind::Mem => right(format::mem(w, tree)),
            Kind::Time => right(if w.started.is_none() && w.runtime.is_zero() {
                String::new() // never ran
            } else {
                format::duration(format::runtime(w, app.now))
            }),
            Kind::Exit => Cell::from(Span::styled(format::exit_code(w), state_style)),
            Kind::Restarts => right(if w.restarts > 0 {
                w.restarts.to_string()
            } else {
                String::new()
            }),
        })
        .collect();
    if last {
        // A worker that could not start says why where its output would be.
        let (text, style) = match (&w.error, doing) {
            (Some(error), _) if w.state == WorkerState::Failed => (format::safe(error), t.error()),
            (_, Some(doing)) => (doing.into(), t.dim()),
            _ => (format::safe(&w.last_line), t.dim()),
        };
        cells.push(Cell::from(Span::styled(text, style)));
    }
    let row = Row::new(cells);
    if w.state.is_finished() && w.code != Some(0) || w.state.is_active() {
        row
    } else {
        row.style(t.dim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(cols: &[Column]) -> Vec<Kind> {
        cols.iter().map(|c| c.kind).collect()
    }

    const NEEDS: Needs = Needs {
        name: 10,
        pid: 7,
        state: 9,
        flags: 0,
        exit: 10,
    };

    #[test]
    fn narrow_tables_drop_columns_but_never_cut_the_pid() {
        for width in 20..=140 {
            let (cols, last) = columns(width, NEEDS);
            let pid = cols.iter().find(|c| c.kind == Kind::Pid).expect("pid kept");
            assert_eq!(pid.width, 7, "at {width}");
            let used: u16 =
                cols.iter().map(|c| c.width + 1).sum::<u16>() + last.map_or(0, |l| l + 1);
            assert!(used <= width + 1, "fits at {width}: {used}");
        }
        let (cols, _) = columns(38, NEEDS);
        assert_eq!(
            kinds(&cols),
            [Kind::Mark, Kind::Name, Kind::Pid, Kind::State, Kind::Cpu]
        );
        let (cols, last) = columns(120, NEEDS);
        assert!(kinds(&cols).contains(&Kind::Restarts) && last.is_some());
        assert!(
            !kinds(&cols).contains(&Kind::Flags),
            "no markers, no column"
        );
        let flagged = Needs { flags: 9, ..NEEDS };
        let (cols, _) = columns(120, flagged);
        assert_eq!(kinds(&cols)[3..5], [Kind::State, Kind::Flags]);
    }
}
