//! Layer planning: the z of every layer top and the plane each layer is cut at.

use crate::SliceError;

/// One layer of the print: its top `z` and thickness, millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    pub top: f32,
    pub height: f32,
}

impl Layer {
    /// The plane the mesh is cut at: the middle of the layer, so thin features are sampled fairly.
    pub fn slice_z(&self) -> f32 {
        self.top - self.height / 2.0
    }
}

/// Plans uniform layers over an object `object_height` tall, with its own first-layer height.
pub fn plan_layers(object_height: f32, first: f32, rest: f32) -> Result<Vec<Layer>, SliceError> {
    for h in [first, rest] {
        if !(h > 0.0 && h.is_finite()) {
            return Err(SliceError::BadLayerHeight(h));
        }
    }
    let mut layers = Vec::new();
    if object_height <= 0.0 {
        return Ok(layers);
    }
    layers.push(Layer { top: first, height: first });
    let mut index = 1u32;
    // Compute from the index, not by repeated addition, so error does not accumulate over 1000s of layers.
    loop {
        let top = first + index as f32 * rest;
        if top - rest / 2.0 >= object_height {
            break;
        }
        layers.push(Layer { top, height: rest });
        index += 1;
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_mm_at_point_two() {
        let l = plan_layers(10.0, 0.3, 0.2).unwrap();
        assert_eq!(l[0], Layer { top: 0.3, height: 0.3 });
        // 0.3 + 48 × 0.2 = 9.9: a layer topping at 10.1 would be cut at z = 10.0, the object's very top,
        // where the cross-section is empty.
        assert!((l.last().unwrap().top - 9.9).abs() < 1e-4, "{:?}", l.last());
        assert_eq!(l.len(), 49);
        assert!((l[1].slice_z() - 0.4).abs() < 1e-6);
    }

    #[test]
    fn rejects_zero_height() {
        assert_eq!(plan_layers(10.0, 0.0, 0.2), Err(SliceError::BadLayerHeight(0.0)));
        assert!(plan_layers(0.0, 0.2, 0.2).unwrap().is_empty());
    }
}
