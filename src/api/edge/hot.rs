//! Hot routes: the few routes (predict, V2 infer) that the edge hands to their handler
//! itself, skipping axum's routing (the route-tree walk, URL parameters, request
//! extensions and a boxed clone of the route's service per request), which was the
//! largest cost left above a bare axum server.
//!
//! Each is declared once: its template is the same constant its `#[utoipa::path]`
//! names, so the router serves the route (for methods and parameters the edge leaves
//! to it) and documents it from the same string, and [`check`] refuses to start when a
//! hot route is not a route of the router.

use std::convert::Infallible;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use futures_util::future::BoxFuture;

use crate::state::AppState;

/// A route with one path parameter that the edge hands to `handler` itself, for one
/// method. The handler gets the parameter as the router's `Path<String>` would give
/// it; a parameter with a `%` (which the router would percent-decode) goes through the
/// router instead, as does every other method.
#[derive(Clone)]
pub struct Direct {
    pub template: &'static str,
    pub method: Method,
    pub handler: DirectHandler,
}

/// The handler of a [`Direct`] route: state, the path parameter and the request.
pub type DirectHandler = fn(AppState, String, Request) -> DirectFuture;

/// What a [`DirectHandler`] answers with: the same as a route's future behind the router.
pub type DirectFuture = BoxFuture<'static, Result<Response, Infallible>>;

/// The hot routes, each split around its one parameter.
pub struct HotRoutes {
    routes: Vec<(Direct, &'static str, &'static str)>,
}

#[derive(Debug, thiserror::Error)]
pub enum HotRouteError {
    #[error("hot route {method} {template} must have exactly one path parameter")]
    Shape {
        method: Method,
        template: &'static str,
    },
    #[error("hot route {method} {template} is not a route of the router")]
    NotRouted {
        method: Method,
        template: &'static str,
    },
}

impl HotRoutes {
    pub fn new(direct: impl IntoIterator<Item = Direct>) -> Result<Self, HotRouteError> {
        let routes = direct
            .into_iter()
            .map(|d| {
                let shape = || HotRouteError::Shape {
                    method: d.method.clone(),
                    template: d.template,
                };
                let (prefix, rest) = d.template.split_once('{').ok_or_else(shape)?;
                let (_, suffix) = rest.split_once('}').ok_or_else(shape)?;
                if suffix.contains('{') || prefix.is_empty() {
                    return Err(shape());
                }
                Ok((d, prefix, suffix))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { routes })
    }

    /// The hot route `path` matches for `method`, with its index and parameter.
    pub fn find<'p>(&self, method: &Method, path: &'p str) -> Option<(usize, &Direct, &'p str)> {
        self.routes
            .iter()
            .enumerate()
            .find_map(|(i, (d, prefix, suffix))| {
                let param = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
                let plain = !param.is_empty() && !param.contains(['/', '%']);
                (plain && d.method == method).then_some((i, d, param))
            })
    }

    pub fn template(&self, index: usize) -> Option<&'static str> {
        self.routes.get(index).map(|(d, _, _)| d.template)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Direct> {
        self.routes.iter().map(|(d, _, _)| d)
    }
}

/// Start-up check: every hot route is served by the router with its method, so the
/// requests the edge leaves to the router (other methods, encoded parameters) are
/// answered by the same handler. `routed` lists the router's (method, template) pairs.
pub fn check<'a>(
    hot: &HotRoutes,
    routed: impl IntoIterator<Item = (Method, &'a str)> + Clone,
) -> Result<(), HotRouteError> {
    for d in hot.iter() {
        let served = routed
            .clone()
            .into_iter()
            .any(|(m, t)| m == d.method && t == d.template);
        if !served {
            return Err(HotRouteError::NotRouted {
                method: d.method.clone(),
                template: d.template,
            });
        }
    }
    Ok(())
}
