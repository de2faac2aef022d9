// Starts Swagger UI on /api/docs. A file of its own, not an inline script, so the page works under a
// strict Content-Security-Policy. validatorUrl: null keeps it from calling the online validator (the
// appliance may have no internet).
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
