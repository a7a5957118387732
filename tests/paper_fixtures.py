"""Fixture builders for the paper loaders: they live in :mod:`vna.data.paper.fixtures` (the quick mode of the
paper grid serves them too); re-exported here for the tests."""
from vna.data.paper.fixtures import *  # noqa: F401,F403
from vna.data.paper.fixtures import (ASSEMBLY_NAME, HVM_CATEGORIES, HVM_OBJECTS, HVM_REGIONS, HVM_REPS,  # noqa: F401
                                     HVM_VARIATION, hvm_ids, hvm_value, imagenet_tensor, write_allen_session,
                                     write_brainio_hvm)
