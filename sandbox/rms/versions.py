"""getOrder versions: which OrderModel fields each version (3..10) returns."""

from __future__ import annotations

import copy
from typing import Any

Json = dict[str, Any]


# Fields that appear from a getOrder version on; goodsTax/isTaxRecalc stop at 8.
_ORDER_SINCE = {
    "receiptIssueCount": 5,
    "receiptIssueHistoryList": 5,
    "DueDateModelList": 5,
    "cautionDisplayDetailType": 6,
    "deliveryCertPrgFlag": 8,
    "oneDayOperationFlag": 8,
    "socialGiftFlag": 10,
    "SocialGiftModel": 10,
}
_PACKAGE_SINCE = {"defaultDeliveryCompanyCode": 4, "dropOffFlag": 9, "dropOffLocation": 9}
_ITEM_SINCE = {"isSingleItemShipping": 4, "SkuModelList": 7}


def version_view(model: Json, version: int) -> Json:
    """A deep copy of ``model`` with only the fields getOrder ``version`` returns."""
    view = copy.deepcopy(model)
    _drop(view, _ORDER_SINCE, version)
    if version >= 8:
        view.pop("goodsTax", None)
        view.pop("isTaxRecalc", None)
    for package in view["PackageModelList"]:
        _drop(package, _PACKAGE_SINCE, version)
        if version < 8:
            package["goodsTax"] = 0
        for item in package["ItemModelList"]:
            _drop(item, _ITEM_SINCE, version)
    return view


def _drop(model: Json, since: dict[str, int], version: int) -> None:
    for key, first in since.items():
        if version < first:
            model.pop(key, None)
