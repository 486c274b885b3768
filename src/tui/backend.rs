//! The terminal backend: crossterm's, except that it never asks the terminal anything.
//! Crossterm would read the cursor position from stdin itself, racing our own input
//! reader, and asks for the size on every draw. We know where we last put the cursor, and
//! the loop tells us the size when SIGWINCH says it changed.

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use std::io::Write;

pub struct Out<W: Write> {
    inner: CrosstermBackend<W>,
    cursor: Position,
    size: Size,
}

impl<W: Write> Out<W> {
    pub fn new(writer: W, size: Size) -> Out<W> {
        Out { inner: CrosstermBackend::new(writer), cursor: Position::ORIGIN, size }
    }

    pub fn set_size(&mut self, size: Size) {
        self.size = size;
    }

    /// For bytes of our own (clipboard, bell, cursor shape), in order with the frames.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.inner
    }
}

impl<W: Write> Backend for Out<W> {
    type Error = std::io::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        let p = position.into();
        self.cursor = p;
        self.inner.set_cursor_position(p)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Backend::flush(&mut self.inner)
    }
}
