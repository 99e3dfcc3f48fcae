"""Fixed, realistic Japanese sample data: people, addresses, items and payment names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")
UNSET = -9999

# (familyName, firstName, familyNameKana, firstNameKana)
PEOPLE = (
    ("山田", "花子", "ヤマダ", "ハナコ"),
    ("佐藤", "健一", "サトウ", "ケンイチ"),
    ("鈴木", "美咲", "スズキ", "ミサキ"),
    ("高橋", "大輔", "タカハシ", "ダイスケ"),
    ("田中", "由美", "タナカ", "ユミ"),
    ("伊藤", "翔太", "イトウ", "ショウタ"),
    ("渡辺", "さくら", "ワタナベ", "サクラ"),
    ("中村", "誠", "ナカムラ", "マコト"),
    ("小林", "真理子", "コバヤシ", "マリコ"),
    ("加藤", "悠斗", "カトウ", "ユウト"),
)

# (zipCode1, zipCode2, prefecture, city, subAddress, phone1, phone2)
ADDRESSES = (
    ("150", "0002", "東京都", "渋谷区", "渋谷２丁目２１−１ ヒカリエ３０２", "03", "5468"),
    ("530", "0001", "大阪府", "大阪市北区", "梅田３丁目１−３", "06", "6347"),
    ("460", "0008", "愛知県", "名古屋市中区", "栄３丁目５−１２ 栄ハイツ５０１", "052", "261"),
    ("812", "0012", "福岡県", "福岡市博多区", "博多駅中央街１−１", "092", "431"),
    ("060", "0005", "北海道", "札幌市中央区", "北五条西４丁目７", "011", "241"),
    ("980", "0021", "宮城県", "仙台市青葉区", "中央１丁目１−１ コーポ青葉２０３", "022", "227"),
    ("220", "0011", "神奈川県", "横浜市西区", "高島２丁目１６−１", "045", "441"),
    ("700", "0024", "岡山県", "岡山市北区", "駅元町１−１", "086", "225"),
)

ISLAND_ADDRESSES = (
    ("100", "1511", "東京都", "八丈島八丈町", "三根１２３４", "04996", "2"),
    ("901", "3701", "沖縄県", "島尻郡北大東村", "字中野５６", "09802", "3"),
    ("891", "7101", "鹿児島県", "大島郡徳之島町", "亀津７８９", "0997", "82"),
)

# (itemName, manageNumber, price, includeTaxFlag, taxRate, selectedChoice or None)
ITEMS = (
    (
        "【送料無料】国産 今治タオル フェイスタオル 5枚セット",
        "imabari-ft5",
        3980,
        1,
        0.1,
        "カラー:ホワイト",
    ),
    ("北海道産 ゆめぴりか 5kg 令和7年産", "yumepirika-5kg", 3480, 1, 0.08, None),
    ("有機栽培 静岡 深蒸し煎茶 100g×3袋", "fukamushi-3p", 2700, 1, 0.08, None),
    ("ステンレス 真空断熱 タンブラー 420ml", "tumbler-420", 1500, 0, 0.1, "カラー:ネイビー"),
    ("訳あり 紀州南高梅 はちみつ梅干し 1kg", "kishu-ume-1kg", 2980, 1, 0.08, "塩分:8%"),
    ("撥水加工 折りたたみ傘 軽量 晴雨兼用", "kasa-lw01", 2200, 1, 0.1, "カラー:ベージュ"),
    (
        "オーガニックコットン Tシャツ 半袖 メンズ",
        "oc-tee-m",
        2900,
        1,
        0.1,
        "サイズ:L\nカラー:チャコール",
    ),
    ("手作り 信州 りんごジャム 3個セット ギフト", "ringo-jam-3", 1800, 0, 0.08, "熨斗:不要"),
)

SETTLEMENT_NAMES = {
    1: "クレジットカード",
    2: "代金引換",
    3: "後払い",
    4: "ショッピングクレジット／ローン",
    5: "オートローン",
    6: "リース",
    7: "請求書払い",
    9: "銀行振込",
    12: "Apple Pay",
    13: "セブンイレブン（前払）",
    14: "ファミリーマート、ローソン等（前払）",
    16: "Alipay",
    17: "PayPal",
    21: "後払い決済",
    27: "Alipay（支付宝）",
}
SELECTIVE_SETTLEMENTS = frozenset({2, 4, 5, 6, 7})
COD_FEE = 330
CARD_BRANDS = ("VISA", "MASTER", "JCB", "AMEX")


def fmt_datetime(value: datetime | None) -> str | None:
    """RMS's response datetime: JST with a colon-less offset (2024-06-24T13:40:33+0900)."""
    if value is None:
        return None
    return value.astimezone(JST).strftime("%Y-%m-%dT%H:%M:%S+0900")


def end_of_day_jst(value: datetime) -> datetime:
    """23:59:59 JST of ``value``'s JST calendar date (how RMS dates licence keys)."""
    day = value.astimezone(JST).date()
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=JST)


def as_aware(value: datetime) -> datetime:
    """Read a naive datetime as JST (RMS's only timezone); keep aware ones."""
    return value if value.tzinfo is not None else value.replace(tzinfo=JST)
