//! A model: several named objects, each a mesh with its own placement, as 3MF and glTF scenes have.

use std::collections::BTreeMap;

use glam::{Mat4, Vec3 as GVec3};

use crate::{Aabb, IndexedMesh};

/// An RGBA colour, 0–255 per channel.
pub type Rgba = [u8; 4];

/// One object of a model: its mesh in its own coordinates and where it sits in the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelObject {
    pub name: String,
    pub mesh: IndexedMesh,
    /// Object → model coordinates (millimetres).
    pub transform: Mat4,
    pub colour: Option<Rgba>,
    pub material: Option<String>,
}

impl ModelObject {
    /// An object placed at the origin with no colour or material.
    pub fn new(name: impl Into<String>, mesh: IndexedMesh) -> Self {
        Self { name: name.into(), mesh, transform: Mat4::IDENTITY, colour: None, material: None }
    }

    /// The mesh with the object's transform applied (what gets printed).
    pub fn placed_mesh(&self) -> IndexedMesh {
        let mut m = self.mesh.clone();
        if self.transform != Mat4::IDENTITY {
            m.transform(&self.transform);
        }
        m
    }
}

/// A model file's contents: objects plus free-form metadata (title, designer, application).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    pub objects: Vec<ModelObject>,
    pub metadata: BTreeMap<String, String>,
}

impl Model {
    /// A model of one object.
    pub fn single(name: impl Into<String>, mesh: IndexedMesh) -> Self {
        Self { objects: vec![ModelObject::new(name, mesh)], metadata: BTreeMap::new() }
    }

    /// Total triangles over all objects.
    pub fn triangle_count(&self) -> usize {
        self.objects.iter().map(|o| o.mesh.triangles().len()).sum()
    }

    /// Every object placed and joined into one mesh (vertices are not shared between objects).
    pub fn merged(&self) -> IndexedMesh {
        let mut out = IndexedMesh::default();
        for o in &self.objects {
            out.append(&o.placed_mesh());
        }
        out
    }

    /// The bounding box of all placed objects.
    pub fn bounding_box(&self) -> Option<Aabb> {
        self.objects.iter().filter_map(|o| o.placed_mesh().bounding_box()).reduce(|a, b| a.union(&b))
    }
}

/// Applies an affine transform to a point.
pub(crate) fn transform_point(m: &Mat4, p: [f32; 3]) -> [f32; 3] {
    m.transform_point3(GVec3::from_array(p)).to_array()
}
