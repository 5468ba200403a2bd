//! The exact-size copy of `backup files`: a file's data is written at exactly the size its tar header declared,
//! cut if the file grew and padded with zeros if it shrank, as GNU tar does ("file changed as we read it").

use std::io::{self, Read};

/// A reader that yields exactly `length` bytes of `inner`: it stops there if `inner` has more (and notes that it
/// grew), and pads with zeros if `inner` ends sooner (and notes how many bytes were missing).
pub(crate) struct ExactReader<R> {
    inner: R,
    remaining: u64,
    missing: u64,
    grew: bool,
    probed: bool,
}

/// How the bytes of a file compared with the length its header declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copied {
    Exact,
    /// The reader ended this many bytes early; zeros stand in for them.
    Shrank(u64),
    /// The reader had more bytes than the header declared; they were left out.
    Grew,
}

impl<R: Read> ExactReader<R> {
    pub(crate) fn new(inner: R, length: u64) -> Self {
        Self {
            inner,
            remaining: length,
            missing: 0,
            grew: false,
            probed: false,
        }
    }

    /// The outcome, once the reader has been read to its end.
    pub(crate) fn copied(&self) -> Copied {
        if self.missing > 0 {
            Copied::Shrank(self.missing)
        } else if self.grew {
            Copied::Grew
        } else {
            Copied::Exact
        }
    }
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            if !self.probed {
                // One byte more than declared tells a file that grew.
                let mut probe = [0u8; 1];
                let read = loop {
                    match self.inner.read(&mut probe) {
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                self.probed = true;
                self.grew = read > 0 && self.missing == 0;
            }
            return Ok(0);
        }
        let want = usize::try_from(self.remaining).map_or(buf.len(), |remaining| remaining.min(buf.len()));
        let read = if self.missing > 0 {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        if read > 0 {
            self.remaining -= read as u64;
            return Ok(read);
        }
        // The file ended early: zeros for the rest, as GNU tar pads a file that shrank.
        if self.missing == 0 {
            self.missing = self.remaining;
        }
        buf[..want].fill(0);
        self.remaining -= want as u64;
        Ok(want)
    }
}
