from cfs_build.dodo import *
