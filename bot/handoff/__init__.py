"""Handing a citizen on to a person, used by the action server: which coordinator of a region gets
a lead and whether they are at work now (`routing`, from coordinators.yml or COORDINATORS_FILE),
and the e-mail that tells them (`notify`)."""
