//! The least role each API route needs. A route missing here is refused for everyone (and logged), so
//! a new endpoint is closed until someone decides who may use it. Handlers refine further where the
//! answer depends on the thing (a maker cancels only their own job; a teacher approves only their
//! classes' jobs).

use axum::http::Method;

use crate::db::Role;

/// Who may call a route: nobody signed in, or at least a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in itself, the first-run setup, health).
    Public,
    /// Any signed-in caller with at least this role.
    AtLeast(Role),
}

use Access::{AtLeast, Public};
use Role::{Admin, Kiosk, Maker, Manager, Teacher};

/// (method, route as axum matched it, access). `*` matches any method.
pub const TABLE: &[(&str, &str, Access)] = &[
    // Accounts.
    ("POST", "/api/v1/auth/login", Public),
    ("POST", "/api/v1/auth/logout", Public),
    ("POST", "/api/v1/auth/setup", Public),
    // Only a kiosk device's own session takes PINs; the handler refuses everyone else (API keys too).
    ("POST", "/api/v1/auth/pin", AtLeast(Kiosk)),
    ("GET", "/api/v1/auth/me", AtLeast(Kiosk)),
    ("PUT", "/api/v1/auth/password", AtLeast(Maker)),
    ("GET", "/api/v1/users", AtLeast(Teacher)),
    ("POST", "/api/v1/users", AtLeast(Admin)),
    ("PATCH", "/api/v1/users/{id}", AtLeast(Admin)),
    ("DELETE", "/api/v1/users/{id}", AtLeast(Admin)),
    // Own keys for anyone with a real account; an admin sees and revokes everyone's.
    ("GET", "/api/v1/api-keys", AtLeast(Maker)),
    ("POST", "/api/v1/api-keys", AtLeast(Maker)),
    // Revoke all of one's own keys at once.
    ("DELETE", "/api/v1/api-keys", AtLeast(Maker)),
    ("DELETE", "/api/v1/api-keys/{id}", AtLeast(Maker)),
    // OctoPrint-compatible upload (slicers): it queues a job, so the same role as POST /api/v1/jobs.
    ("GET", "/api/version", AtLeast(Maker)),
    ("POST", "/api/files/local", AtLeast(Maker)),
    // Models and generation.
    ("POST", "/api/v1/models", AtLeast(Maker)),
    ("GET", "/api/v1/models/versions/{id}", AtLeast(Kiosk)),
    ("GET", "/api/v1/models/versions/{id}/file", AtLeast(Kiosk)),
    ("GET", "/api/v1/models/versions/{id}/thumbnail.png", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations", AtLeast(Kiosk)),
    ("POST", "/api/v1/generations", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations/status", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations/templates", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations/{id}", AtLeast(Kiosk)),
    ("POST", "/api/v1/generations/{id}/cancel", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations/{id}/events", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations/{id}/preview.glb", AtLeast(Kiosk)),
    ("GET", "/api/v1/generations/{id}/preview.png", AtLeast(Kiosk)),
    // Jobs and the queue.
    ("GET", "/api/v1/jobs", AtLeast(Kiosk)),
    ("POST", "/api/v1/jobs", AtLeast(Maker)),
    ("GET", "/api/v1/jobs/{id}", AtLeast(Kiosk)),
    ("PATCH", "/api/v1/jobs/{id}", AtLeast(Manager)),
    ("GET", "/api/v1/jobs/{id}/thumbnail.png", AtLeast(Kiosk)),
    ("POST", "/api/v1/jobs/{id}/{action}", AtLeast(Maker)),
    ("GET", "/api/v1/queue", AtLeast(Kiosk)),
    // Printers.
    ("GET", "/api/v1/printers", AtLeast(Kiosk)),
    ("POST", "/api/v1/printers", AtLeast(Manager)),
    ("GET", "/api/v1/printers/discover", AtLeast(Manager)),
    ("GET", "/api/v1/printers/{id}", AtLeast(Kiosk)),
    ("PATCH", "/api/v1/printers/{id}", AtLeast(Manager)),
    ("DELETE", "/api/v1/printers/{id}", AtLeast(Manager)),
    // Whoever takes the print off the bed says so: makers at the farm do this.
    ("POST", "/api/v1/printers/{id}/bed-clear", AtLeast(Maker)),
    ("PUT", "/api/v1/printers/{id}/spool", AtLeast(Manager)),
    ("POST", "/api/v1/printers/{id}/maintenance", AtLeast(Manager)),
    // Materials.
    ("GET", "/api/v1/materials", AtLeast(Kiosk)),
    ("POST", "/api/v1/materials", AtLeast(Manager)),
    ("GET", "/api/v1/spools", AtLeast(Kiosk)),
    ("POST", "/api/v1/spools", AtLeast(Manager)),
    ("PATCH", "/api/v1/spools/{id}", AtLeast(Manager)),
    // Statistics: teachers see their classes'.
    ("GET", "/api/v1/stats/printers", AtLeast(Teacher)),
    ("GET", "/api/v1/stats/users", AtLeast(Teacher)),
    ("GET", "/api/v1/stats/groups", AtLeast(Teacher)),
    ("GET", "/api/v1/stats/utilisation", AtLeast(Teacher)),
    ("POST", "/api/v1/groups", AtLeast(Manager)),
    // Upkeep and the farm's settings.
    ("GET", "/api/v1/maintenance", AtLeast(Manager)),
    ("POST", "/api/v1/maintenance/{id}/done", AtLeast(Manager)),
    ("GET", "/api/v1/notifications", AtLeast(Teacher)),
    ("POST", "/api/v1/notifications/{id}/read", AtLeast(Teacher)),
    ("GET", "/api/v1/farm/settings", AtLeast(Manager)),
    ("PUT", "/api/v1/farm/settings", AtLeast(Admin)),
    ("GET", "/api/v1/farm/windows", AtLeast(Kiosk)),
    ("POST", "/api/v1/farm/windows", AtLeast(Manager)),
    ("DELETE", "/api/v1/farm/windows/{id}", AtLeast(Manager)),
    ("GET", "/api/v1/audit", AtLeast(Manager)),
    // Live events carry what the dashboard shows.
    ("GET", "/api/v1/events", AtLeast(Kiosk)),
];

/// The access a route needs, or `None` when the table does not name it (refuse).
pub fn access(method: &Method, route: &str) -> Option<Access> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    TABLE.iter().find(|(m, r, _)| (*m == "*" || *m == method) && *r == route).map(|(_, _, a)| *a)
}

/// The methods the table names for `route` (GET also allows HEAD); empty for a route it does not know.
pub fn methods(route: &str) -> Vec<&'static str> {
    TABLE.iter().filter(|(_, r, _)| *r == route).map(|(m, _, _)| *m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for (m, r, _) in TABLE {
            assert!(seen.insert((m, r)), "{m} {r} twice");
            assert!(r.starts_with("/api/"), "{r}");
            assert!(["GET", "POST", "PUT", "PATCH", "DELETE", "*"].contains(m), "{m}");
        }
    }

    #[test]
    fn unknown_routes_are_refused_and_head_is_get() {
        assert_eq!(access(&Method::GET, "/api/v1/secret"), None);
        assert_eq!(access(&Method::DELETE, "/api/v1/queue"), None);
        assert_eq!(access(&Method::HEAD, "/api/v1/queue"), Some(AtLeast(Kiosk)));
        assert_eq!(access(&Method::POST, "/api/v1/auth/login"), Some(Public));
        assert_eq!(methods("/api/v1/queue"), ["GET"]);
        assert!(methods("/api/v1/secret").is_empty());
    }
}
