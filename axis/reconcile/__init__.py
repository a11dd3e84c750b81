"""Reconciling hosts to their specs: observe, plan, converge, record; the controller's loop over them."""
