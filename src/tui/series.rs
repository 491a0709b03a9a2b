//! Fixed-capacity time series for the dashboard's charts: one `(t_seconds, value)` point per
//! second of the run, oldest dropped first. Owns no rendering and never allocates past its
//! capacity; `App::update` is its only writer.

/// A bounded series of `(x, y)` points, x increasing.
#[derive(Debug, Clone, Default)]
pub struct Series {
    cap: usize,
    points: Vec<(f64, f64)>,
}

impl Series {
    /// An empty series holding at most `cap` points (at least 2).
    pub fn new(cap: usize) -> Self {
        Series {
            cap: cap.max(2),
            points: Vec::with_capacity(cap.max(2)),
        }
    }

    /// Appends a point, replacing the last one when it has the same x.
    pub fn push(&mut self, x: f64, y: f64) {
        let y = if y.is_finite() { y.max(0.0) } else { 0.0 };
        if let Some(last) = self.points.last_mut() {
            if (last.0 - x).abs() < f64::EPSILON {
                last.1 = y;
                return;
            }
        }
        if self.points.len() == self.cap {
            // Once a second with cap ~600: shifting is cheaper than it sounds, and a
            // contiguous slice is what ratatui's `Dataset::data` borrows.
            self.points.remove(0);
        }
        self.points.push((x, y));
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Largest y (0 when empty).
    pub fn max_y(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// The x range covered, `[first, last]` (at least 1 s wide).
    pub fn x_bounds(&self) -> [f64; 2] {
        match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) => [a.0, b.0.max(a.0 + 1.0)],
            _ => [0.0, 1.0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_points_up_to_capacity() {
        let mut s = Series::new(3);
        for i in 0..5 {
            s.push(f64::from(i), f64::from(i * 10));
        }
        assert_eq!(s.points(), &[(2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]);
        assert_eq!(s.max_y(), 40.0);
        assert_eq!(s.x_bounds(), [2.0, 4.0]);
    }

    #[test]
    fn same_x_replaces_and_nan_is_zero() {
        let mut s = Series::new(10);
        s.push(1.0, 5.0);
        s.push(1.0, 7.0);
        s.push(2.0, f64::NAN);
        assert_eq!(s.points(), &[(1.0, 7.0), (2.0, 0.0)]);
    }
}
