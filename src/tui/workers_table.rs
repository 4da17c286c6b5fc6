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
use crate::engine::{Snapshot, WorkerView};

/// A column: header, width, right-aligned.
struct Column {
    name: &'static str,
    width: u16,
    right: bool,
}

const fn col(name: &'static str, width: u16, right: bool) -> Column {
    Column { name, width, right }
}

/// The columns that fit in `width`, in order; the name column gets what is left
/// (capped), and the last-output column fills the rest when there is room.
fn columns(width: u16, name_width: u16) -> (Vec<Column>, Option<u16>) {
    let mut cols = vec![
        col("", 1, false),
        col("NAME", 0, false),
        col("PID", 7, true),
        col("STATE", 12, false),
        col("CPU%", 5, true),
        col("MEM", 6, true),
        col("TIME", 7, true),
        col("EXIT", 11, false),
    ];
    if width >= 100 {
        cols.push(col("RST", 3, true));
    }
    let fixed: u16 = cols.iter().map(|c| c.width + 1).sum();
    let left = width.saturating_sub(fixed);
    let name = name_width.clamp(6, 28).min(left.max(4));
    cols[1].width = name;
    let rest = left.saturating_sub(name + 1);
    let last = (rest >= 12).then_some(rest);
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
    let mut block = panel(title("Workers", focused, t, extra), focused, t);
    let arrow = if list.reverse { "↑" } else { "↓" };
    let sort = Line::from(Span::styled(
        format!(" sort: {}{arrow} ", list.sort.label()),
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
    let name_width = visible
        .iter()
        .map(|w| w.name.chars().count())
        .max()
        .unwrap_or(4) as u16;
    let (cols, last) = columns(inner.width, name_width);
    let mut widths: Vec<Constraint> = cols.iter().map(|c| Constraint::Length(c.width)).collect();
    let mut header: Vec<Cell> = cols
        .iter()
        .map(|c| header_cell(c.name, c.width, c.right))
        .collect();
    if let Some(w) = last {
        widths.push(Constraint::Length(w));
        header.push(Cell::from("LAST OUTPUT"));
    }
    let rows = visible.iter().map(|w| row(w, app, &cols, last.is_some()));
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

fn row<'a>(w: &'a WorkerView, app: &App, cols: &[Column], last: bool) -> Row<'a> {
    let t = &app.theme;
    let marked = app.workers.marked.contains(&w.id);
    let state_style = t.state(w);
    let name_style = if marked { t.marked() } else { t.text() };
    let mut cells = vec![
        Cell::from(if marked {
            Span::styled("●", t.marked())
        } else {
            Span::raw(" ")
        }),
        Cell::from(Span::styled(format::safe(&w.name), name_style)),
        right(w.pid.map(|p| p.to_string()).unwrap_or_default()),
        Cell::from(Span::styled(format::state(w, app.now), state_style)),
        right(format::cpu(w)),
        right(if w.state.is_active() {
            format::bytes(w.stats.rss)
        } else {
            "-".into()
        }),
        right(if w.started.is_none() && w.runtime.is_zero() {
            String::new() // never ran
        } else {
            format::duration(format::runtime(w, app.now))
        }),
        Cell::from(Span::styled(format::exit_code(w), state_style)),
    ];
    if cols.len() > 8 {
        cells.push(right(if w.restarts > 0 {
            w.restarts.to_string()
        } else {
            String::new()
        }));
    }
    if last {
        cells.push(Cell::from(Span::styled(
            format::safe(&w.last_line),
            t.dim(),
        )));
    }
    let row = Row::new(cells);
    if w.state.is_finished() && w.code != Some(0) || w.state.is_active() {
        row
    } else {
        row.style(t.dim())
    }
}
