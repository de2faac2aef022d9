use crate::Vec3;

/// An axis-aligned bounding box in millimetres; `min <= max` on every axis for a non-empty box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    pub min: Vec3,
    pub max: Vec3,
}

impl Aabb {
    /// The smallest box around `points`, or `None` when there are none.
    pub fn around<'a>(points: impl IntoIterator<Item = &'a Vec3>) -> Option<Self> {
        let mut it = points.into_iter();
        let first = *it.next()?;
        Some(it.fold(Aabb { min: first, max: first }, |b, p| Aabb {
            min: [b.min[0].min(p[0]), b.min[1].min(p[1]), b.min[2].min(p[2])],
            max: [b.max[0].max(p[0]), b.max[1].max(p[1]), b.max[2].max(p[2])],
        }))
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &Aabb) -> Aabb {
        Aabb {
            min: [self.min[0].min(other.min[0]), self.min[1].min(other.min[1]), self.min[2].min(other.min[2])],
            max: [self.max[0].max(other.max[0]), self.max[1].max(other.max[1]), self.max[2].max(other.max[2])],
        }
    }

    /// Edge lengths along x, y and z.
    pub fn size(&self) -> Vec3 {
        [self.max[0] - self.min[0], self.max[1] - self.min[1], self.max[2] - self.min[2]]
    }

    /// Whether the box fits inside a build volume of the given size (no rotation tried).
    pub fn fits_within(&self, volume: Vec3) -> bool {
        let s = self.size();
        (0..3).all(|i| s[i] <= volume[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_has_no_box() {
        assert_eq!(Aabb::around(std::iter::empty()), None);
    }

    #[test]
    fn box_spans_all_points() {
        let pts = [[1.0, -2.0, 3.0], [-1.0, 5.0, 0.5], [0.0, 0.0, 9.0]];
        let b = Aabb::around(&pts).unwrap();
        assert_eq!(b.min, [-1.0, -2.0, 0.5]);
        assert_eq!(b.max, [1.0, 5.0, 9.0]);
        assert_eq!(b.size(), [2.0, 7.0, 8.5]);
        assert!(b.fits_within([2.0, 7.0, 8.5]));
        assert!(!b.fits_within([2.0, 6.9, 8.5]));
    }
}
