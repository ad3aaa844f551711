//! Human output: each finding as a miette diagnostic (code and rule name, message, the source
//! snippet with the value underlined, related locations, `help:`), then the summary line.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};

use crate::diag::{Finding, Severity};
use crate::report::{Input, display_path, list_names};
use crate::source::FileId;

#[derive(Debug)]
struct Rendered {
    code: String,
    severity: Severity,
    message: String,
    help: Option<String>,
    labels: Vec<LabeledSpan>,
    source: Option<Window>,
}

/// A file's (masked) text for miette, which reads only the lines around a span: miette's own
/// `SourceCode` for a string scans it from the start for every snippet, which made 100,000
/// findings in one big file quadratic. The line index is computed once per file.
#[derive(Debug, Clone)]
struct Window {
    name: Arc<str>,
    text: Arc<str>,
    line_starts: Arc<[u32]>,
    /// Where masking moved the text: `(original end of a secret, its original start, the
    /// shift of everything after it)`, in order.
    shifts: Arc<[(u32, u32, i64)]>,
}

impl Window {
    /// A byte offset of the original file in the masked text.
    fn map(&self, offset: u32) -> u32 {
        let i = self.shifts.partition_point(|&(end, _, _)| end <= offset);
        let before = if i == 0 { 0 } else { self.shifts[i - 1].2 };
        match self.shifts.get(i) {
            // Inside a secret: its mask's start.
            Some(&(_, start, _)) if start <= offset => (i64::from(start) + before) as u32,
            _ => (i64::from(offset) + before) as u32,
        }
    }

    /// A finding's span, mapped into the masked text.
    fn span(&self, start: u32, len: u32) -> SourceSpan {
        let (a, b) = (self.map(start), self.map(start.saturating_add(len)));
        span(a, b.saturating_sub(a).max(len.min(1)), &self.text)
    }
}

impl miette::SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let line_of = |offset: usize| {
            self.line_starts
                .partition_point(|&s| s as usize <= offset)
                .saturating_sub(1)
        };
        let first = line_of(span.offset()).saturating_sub(before + 1);
        let last = line_of(span.offset() + span.len()) + after + 2;
        let base = self.line_starts[first] as usize;
        let end = self
            .line_starts
            .get(last)
            .map_or(self.text.len(), |&e| e as usize);
        let window = self.text.get(base..end).unwrap_or("");
        let inner = window.read_span(
            &SourceSpan::new((span.offset() - base).into(), span.len()),
            before,
            after,
        )?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + base).into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

pub struct Style {
    pub color: bool,
    pub unicode: bool,
    pub width: usize,
}

/// Render every finding and the summary line. `quiet` drops warnings and prints errors only.
pub fn render(input: &Input, style: &Style) -> String {
    let theme = match (style.unicode, style.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme {
            characters: miette::ThemeCharacters::ascii(),
            styles: miette::ThemeStyles::ansi(),
        },
        (false, false) => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false)
        .with_context_lines(1)
        // Paths and ranges in help lines must stay whole to be copied or clicked.
        .with_break_words(false)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut texts: HashMap<FileId, Window> = HashMap::new();
    let mut out = String::new();
    for f in input.findings {
        let r = rendered(input, f, &mut texts);
        let _ = handler.render_report(&mut out, &r);
    }
    out.push_str(&input.summary());
    out.push('\n');
    out
}

fn rendered(input: &Input, f: &Finding, texts: &mut HashMap<FileId, Window>) -> Rendered {
    let name = crate::validate::info(f.code).map_or("", |i| i.name);
    let mut message = f.message.clone();
    if input.inherited(f) {
        let what = if f.nodes.len() == 1 { "node" } else { "nodes" };
        message.push_str(&format!(" (affects {what} {})", list_names(&f.nodes, 5)));
    }
    let mut labels = Vec::new();
    let mut source = None;
    if let Some(file) = input
        .design
        .sources
        .get(f.loc.file)
        .filter(|_| !f.loc.is_none())
    {
        let window = texts
            .entry(f.loc.file)
            .or_insert_with(|| masked(input, f.loc.file, display_path(&file.path), &file.text))
            .clone();
        labels.push(LabeledSpan::new_primary_with_span(
            f.label.clone(),
            window.span(f.loc.start, f.loc.len),
        ));
        for r in f.related.iter().filter(|r| nearby(input, f.loc, r.loc)) {
            labels.push(LabeledSpan::new_with_span(
                Some(r.message.clone()),
                window.span(r.loc.start, r.loc.len),
            ));
        }
        source = Some(window);
    }
    // Related locations elsewhere (another file, or far away in this one) would make the
    // snippet span everything in between: name them in the help instead.
    let mut help = f.help.clone();
    for r in f
        .related
        .iter()
        .filter(|r| !r.loc.is_none() && !nearby(input, f.loc, r.loc))
    {
        if let Some(p) = input.position(r.loc) {
            let line = format!("{}: {}:{}:{}", r.message, p.file, p.line, p.column);
            help = Some(match help {
                Some(h) => format!("{h}\n{line}"),
                None => line,
            });
        }
    }
    Rendered {
        code: format!("{}({name})", f.code),
        severity: f.severity,
        message,
        help,
        labels,
        source,
    }
}

/// Whether a related location is close enough to the finding's to share its snippet.
fn nearby(input: &Input, a: crate::source::Loc, b: crate::source::Loc) -> bool {
    match (input.position(a), input.position(b)) {
        (Some(p), Some(q)) => p.file == q.file && a.file == b.file && p.line.abs_diff(q.line) <= 4,
        _ => false,
    }
}

/// How a secret value reads in a snippet: always the same length, so the mask says nothing of
/// the secret (not even how long it is).
const MASK: &str = "********";

/// The file's text with every secret value replaced by [`MASK`], and the offsets moved by it:
/// snippets must not show a literal credential.
fn masked(input: &Input, file: FileId, name: String, text: &str) -> Window {
    let mut secrets: Vec<(usize, usize)> = input
        .design
        .secrets
        .iter()
        .filter(|s| s.file == file)
        .map(|s| {
            let start = (s.start as usize).min(text.len());
            // A secret never spans lines in a snippet: stop at the line's end.
            let len = (s.len as usize).max(1);
            let end = text[start..]
                .find('\n')
                .map_or(text.len(), |nl| start + nl)
                .min(start + len)
                .min(text.len());
            (start, end)
        })
        .collect();
    secrets.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut shifts = Vec::with_capacity(secrets.len());
    let (mut at, mut shift) = (0usize, 0i64);
    for (start, end) in secrets {
        // Overlapping or out-of-character-boundary spans are skipped, never half-masked.
        if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        shift += MASK.len() as i64 - (end - start) as i64;
        shifts.push((end as u32, start as u32, shift));
        at = end;
    }
    out.push_str(&text[at..]);
    let line_starts: Vec<u32> = std::iter::once(0)
        .chain(out.match_indices('\n').map(|(i, _)| i as u32 + 1))
        .collect();
    Window {
        name: Arc::from(name),
        text: Arc::from(out),
        line_starts: Arc::from(line_starts),
        shifts: Arc::from(shifts),
    }
}

/// A span that stays on one line and inside the text (miette draws multi-line spans as a
/// bracket, which hides the value).
fn span(start: u32, len: u32, text: &str) -> SourceSpan {
    let start = (start as usize).min(text.len());
    let rest = text.get(start..).unwrap_or("");
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let len = (len as usize).min(line_end);
    SourceSpan::new(start.into(), len)
}
