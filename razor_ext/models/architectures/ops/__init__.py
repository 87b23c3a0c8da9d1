from razor_ext.models.architectures.ops.darts_series import (DartsDilConv, DartsPoolBN, DartsSepConv, DartsSkipConnect, DartsZero)  # noqa: F401,E501
