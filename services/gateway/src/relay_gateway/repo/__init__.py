"""SQL of the gateway, one module per resource. Every query about tenant data names the
workspace it belongs to, so no id from another workspace can ever match."""
