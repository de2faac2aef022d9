//! Every sentence the editor shows, in one place for translation.

pub const TITLE: &str = "Editor";
pub const LOADING: &str = "Loading the model…";
pub const NO_WEBGL: &str =
    "This browser cannot show 3D (WebGL2 is off). Try another browser, or ask a teacher to turn on graphics acceleration.";
pub const NO_PART: &str = "Pick a part first: tap it on the plate.";
pub const CANNOT_FIT: &str = "This part has no size, so it cannot be scaled to fit.";
pub const EMPTY_PLATE: &str = "The plate is empty. Add a model to print.";
pub const BOTTOM: &str = "bottom";
pub const TOP: &str = "top";
pub const SAVED: &str = "Saved as a new version. The original is still in your library.";
pub const SAVING: &str = "Saving…";
pub const SLICING: &str = "Working out time and filament (this takes a few seconds)…";
pub const PICK_FACE: &str = "Tap the face the part should lie on.";
pub const PICK_FIRST_POINT: &str = "Tap the first point to measure from.";
pub const PICK_SECOND_POINT: &str = "Now tap the second point.";
pub const NOTHING_THERE: &str = "There is no part there. Tap on the model itself.";
pub const NO_MATERIAL: &str =
    "No material is loaded or in stock right now. Ask the farm manager to add a spool, then try again.";
pub const HELP: &str = "Drag to turn the view, right-drag or Shift-drag to slide it, wheel or pinch to zoom. \
                        Tap a part to select it, then drag the arrows to move it, the ring to turn it and the square to resize it.";

pub fn load_failed(why: &str) -> String {
    format!("The model could not be opened: {why}. Go back to the library and pick it again, or upload the file again.")
}

pub fn copy_name(name: &str) -> String {
    format!("{name} (copy)")
}

pub fn cut_outside(bottom: f32, top: f32) -> String {
    format!("Choose a cut height between {bottom:.1} mm and {top:.1} mm: that is where the part is.")
}

pub fn size_line(size: [f32; 3], parts: usize) -> String {
    let what = if parts == 1 { "Size".to_string() } else { format!("Size of all {parts} parts") };
    format!("{what}: {:.1} × {:.1} × {:.1} mm", size[0], size[1], size[2])
}

pub fn has_holes(name: &str) -> String {
    format!("“{name}” has holes in its surface, so the printer cannot tell inside from outside. Make it again, or repair it on a computer.")
}

pub fn too_tall(name: &str, height: f32, max: f32) -> String {
    format!("“{name}” is {height:.0} mm tall but the printer only prints {max:.0} mm high. Scale it down or cut it.")
}

pub fn off_bed(name: &str) -> String {
    format!("“{name}” sticks out of the bed (shown in red). Move it back, scale it down or press Scale to fit.")
}

pub fn floating(name: &str) -> String {
    format!("“{name}” floats above the bed. Press Place on bed.")
}

pub fn all_good(bed: [f32; 3]) -> String {
    format!("Closed surface, fits the {:.0} × {:.0} × {:.0} mm printer: ready to print.", bed[0], bed[1], bed[2])
}

pub fn distance(mm: f32) -> String {
    format!("Distance: {mm:.1} mm")
}

pub fn did_not_fit(names: &[String]) -> String {
    format!("No room on the bed for {}. Scale parts down or remove some.", names.join(", "))
}

pub fn save_failed(why: &str) -> String {
    format!("Saving did not work: {why}. Your changes are still here; try Save again.")
}

pub fn estimate_failed(why: &str) -> String {
    format!("The time and filament could not be worked out: {why}. Check the model and try again.")
}

pub fn send_failed(why: &str) -> String {
    format!("The print was not sent: {why}. Nothing was added to the queue; try again.")
}

/// "1 h 05 min" or "12 min".
pub fn duration(seconds: f64) -> String {
    let minutes = (seconds / 60.0).round().max(1.0) as i64;
    if minutes >= 60 {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(30.0), "1 min");
        assert_eq!(duration(12.0 * 60.0), "12 min");
        assert_eq!(duration(3900.0), "1 h 05 min");
    }
}
