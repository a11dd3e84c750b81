"""Importers: specs for the fleets users bring from pool, AXIS, Ansible and ssh_config (`axis import`).

Each source has its own module that reads its format and returns `Draft`s (axis.adopt.drafts);
axis.adopt.writer renders them as commented YAML, proves them with the spec loader `axis apply`
uses, and writes them only when every one is proven, each file whole. Only axis.specs is used: an import contacts no host and
opens no state DB.
"""
