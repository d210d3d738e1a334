"""Demo consortia as bootstrap specs, generated reproducibly from a seed.

`demo_spec("default")` is what `make run` bootstraps (8 departments, 40 certificate types,
60 service items); `demo_spec("city")` is the size of the platforms CertNet follows (Nanjing: 49
departments and 600+ certificate types; Beijing: 53 departments): 50 departments, 600 types and
1 600 service items. Department codes are well-formed unified social credit codes (GB 32100) of
government organs in Nanjing (region 320100); names are real kinds of Chinese departments and
certificates. Each department signs with an account of the development mnemonic.
"""

from __future__ import annotations

import random
from typing import Any

from stdnum.cn import uscc

from ledger_node.types import DEFAULT_ACCESS_LOG_ID

REGION = "320100"  # 南京市

#: (abbreviation, department name, roles, certificates it issues)
DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("GA", "市公安局", ("governor", "issuer", "relying_party"),
     ("户籍证明", "居民户口簿", "居民身份证", "无犯罪记录证明", "机动车驾驶证", "机动车行驶证", "出入境通行证", "暂住证明", "居住证")),
    ("MZ", "市民政局", ("governor", "issuer", "relying_party"),
     ("结婚证", "离婚证", "收养登记证", "社会团体法人登记证书", "民办非企业单位登记证书", "殡葬证明", "最低生活保障证")),
    ("ZWB", "市政务服务管理办公室", ("governor", "relying_party", "auditor", "holder_channel"), ()),
    ("RS", "市人力资源和社会保障局", ("issuer", "relying_party"),
     ("社会保障卡", "职业资格证书", "专业技术职务任职资格证书", "就业创业证", "退休证", "人力资源服务许可证", "劳务派遣经营许可证")),
    ("ZJ", "市住房和城乡建设局", ("issuer", "relying_party"),
     ("建筑工程施工许可证", "商品房预售许可证", "建筑业企业资质证书", "房地产开发企业资质证书", "物业服务企业资质证书", "安全生产许可证")),
    ("GH", "市规划和自然资源局", ("issuer", "relying_party"),
     ("不动产权证书", "不动产登记证明", "建设用地规划许可证", "建设工程规划许可证", "采矿许可证", "测绘资质证书")),
    ("DSJ", "市大数据管理局", ("log_operator", "auditor", "relying_party"), ()),
    ("SJ", "市审计局", ("auditor", "relying_party"), ()),
    ("SC", "市市场监督管理局", ("issuer", "relying_party"),
     ("营业执照", "食品经营许可证", "食品生产许可证", "药品经营许可证", "特种设备使用登记证", "工业产品生产许可证", "计量器具型式批准证书")),
    ("WJ", "市卫生健康委员会", ("issuer", "relying_party"),
     ("出生医学证明", "医师执业证书", "护士执业证书", "医疗机构执业许可证", "预防接种证", "母婴保健技术服务执业许可证")),
    ("JY", "市教育局", ("issuer", "relying_party"),
     ("学历证书", "教师资格证书", "民办学校办学许可证", "学位证书", "普通话水平测试等级证书")),
    ("SW", "市税务局", ("issuer", "relying_party"), ("完税证明", "纳税信用等级证明", "税收居民身份证明", "个人所得税纳税记录")),
    ("JT", "市交通运输局", ("issuer", "relying_party"),
     ("道路运输经营许可证", "道路运输证", "出租汽车驾驶员从业资格证", "网络预约出租汽车运输证", "船舶营业运输证")),
    ("SF", "市司法局", ("issuer", "relying_party"), ("律师执业证", "公证员执业证", "司法鉴定许可证", "基层法律服务工作者执业证")),
    ("CZ", "市财政局", ("issuer", "relying_party"), ("会计专业技术资格证书", "财政票据", "代理记账许可证书")),
    ("HB", "市生态环境局", ("issuer", "relying_party"), ("排污许可证", "危险废物经营许可证", "辐射安全许可证", "环境影响评价批复")),
    ("WL", "市文化和旅游局", ("issuer", "relying_party"),
     ("旅行社业务经营许可证", "导游证", "营业性演出许可证", "网络文化经营许可证", "娱乐经营许可证")),
    ("NY", "市农业农村局", ("issuer", "relying_party"), ("农药经营许可证", "兽药经营许可证", "动物防疫条件合格证", "渔业捕捞许可证", "种子生产经营许可证")),
    ("SWJ", "市商务局", ("issuer", "relying_party"), ("对外贸易经营者备案登记表", "单用途商业预付卡备案证明", "拍卖经营批准证书")),
    ("YJ", "市应急管理局", ("issuer", "relying_party"), ("危险化学品经营许可证", "特种作业操作证", "烟花爆竹经营许可证", "安全生产知识和管理能力考核合格证")),
    ("TY", "市退役军人事务局", ("issuer", "relying_party"), ("退役军人优待证", "伤残人员证", "烈士证明书")),
    ("YB", "市医疗保障局", ("issuer", "relying_party"), ("医疗保险参保证明", "医保定点医疗机构协议", "异地就医备案证明")),
    ("CG", "市城市管理局", ("issuer", "relying_party"), ("城市建筑垃圾处置核准", "户外广告设置许可", "占用城市道路许可证")),
    ("SWU", "市水务局", ("issuer", "relying_party"), ("取水许可证", "排水许可证", "河道管理范围内建设项目许可")),
    ("TYJ", "市体育局", ("issuer", "relying_party"), ("运动员技术等级证书", "社会体育指导员证书", "高危险性体育项目经营许可证")),
    ("TJ", "市统计局", ("issuer", "relying_party"), ("统计调查项目批准证明", "统计从业资格证明")),
    ("DA", "市档案馆", ("issuer", "relying_party"), ("档案证明", "婚姻登记档案证明", "知青档案证明")),
    ("GJJ", "市住房公积金管理中心", ("issuer", "relying_party"), ("住房公积金缴存证明", "住房公积金贷款结清证明", "公积金提取证明")),
    ("FG", "市发展和改革委员会", ("issuer", "relying_party"), ("企业投资项目备案证", "固定资产投资项目节能审查意见", "价格认定结论书")),
    ("GX", "市工业和信息化局", ("issuer", "relying_party"), ("无线电台执照", "软件企业证书", "民用爆炸物品销售许可证")),
    ("KJ", "市科学技术局", ("issuer", "relying_party"), ("高新技术企业证书", "技术合同认定登记证明", "科技型中小企业入库证明")),
    ("MW", "市民族宗教事务委员会", ("issuer", "relying_party"), ("宗教活动场所登记证", "清真食品准营证")),
    ("WB", "市外事办公室", ("issuer", "relying_party"), ("因公出国（境）任务批件", "外国人来华邀请函")),
    ("CL", "市残疾人联合会", ("issuer", "relying_party"), ("残疾人证", "残疾人机动轮椅车证")),
    ("FL", "市妇女联合会", ("issuer", "relying_party"), ("巾帼文明岗证书", "三八红旗手证书")),
    ("HSH", "市红十字会", ("issuer", "relying_party"), ("无偿献血证", "造血干细胞捐献证书", "救护员证")),
    ("QX", "市气象局", ("issuer", "relying_party"), ("防雷装置设计审核意见书", "升放气球资质证", "气象灾害证明")),
    ("XF", "市消防救援支队", ("issuer", "relying_party"), ("公众聚集场所投入使用营业前消防安全检查合格证", "建设工程消防验收意见书", "消防设施操作员证书")),
    ("YC", "市烟草专卖局", ("issuer", "relying_party"), ("烟草专卖零售许可证", "烟草专卖批发企业许可证")),
    ("BDC", "市不动产登记中心", ("issuer", "relying_party"), ("不动产登记资料查询结果证明", "抵押登记证明", "预告登记证明")),
    ("FC", "市住房保障和房产局", ("issuer", "relying_party"), ("房屋租赁登记备案证明", "保障性住房资格证明", "商品房买卖合同备案证明")),
    ("LY", "市园林绿化局", ("issuer", "relying_party"), ("林木采伐许可证", "植物检疫证书", "古树名木保护证明")),
    ("LS", "市粮食和物资储备局", ("issuer", "relying_party"), ("粮食收购许可证", "粮食质量检验报告")),
    ("RF", "市人民防空办公室", ("issuer", "relying_party"), ("人防工程竣工验收备案证明", "防空地下室易地建设审批")),
    ("JR", "市地方金融监督管理局", ("issuer", "relying_party"), ("小额贷款公司经营许可证", "融资担保业务经营许可证", "典当经营许可证")),
    ("SJU", "市数据局", ("issuer", "relying_party"), ("公共数据开放授权书", "数据产品登记证书")),
    ("GZ", "市公证处", ("issuer", "relying_party"), ("公证书", "亲属关系公证书", "学历公证书")),
    ("ZX", "市政协办公厅", ("relying_party",), ()),
    ("XZ", "市信访局", ("relying_party",), ()),
    ("HG", "南京海关", ("issuer", "relying_party"), ("报关单位备案证明", "进出口货物收发货人备案回执", "原产地证书")),
)

#: How a certificate type is varied when a department issues more types than it has base names.
VARIANTS = ("", "（副本）", "（变更）", "（延续）", "（补发）", "（电子）", "（临时）", "（注销证明）", "（备案）", "（年检）")
#: Service items the README walks through, before the generated ones; departments by abbreviation.
SHOWCASE_ITEMS = (
    {"code": f"{REGION}-SX-ZJ-0001", "name": "商品房买卖合同网签备案（夫妻共有产权）", "owner": "ZJ", "handlers": ["GH"],
     "requires": [f"{REGION}-MZ-001"]},
)
ACTIONS = ("申领", "变更", "补领", "换领", "注销", "查验", "转移登记", "首次登记", "延续", "备案")

SIZES = {
    "default": {"departments": 8, "types": 40, "service_items": 60},
    "city": {"departments": 50, "types": 600, "service_items": 1600},
}


def department_code(index: int) -> str:
    """A well-formed USCC of a government organ ("11") in Nanjing, unique per index."""
    organisation = f"MB{index:06d}"  # 8 characters of the GB 11714 organisation code body
    body = f"11{REGION}{organisation}"
    body += _organisation_check(organisation)
    return body + uscc.calc_check_digit(body)


def _organisation_check(body: str) -> str:
    """GB 11714 check character over an 8-character organisation code body."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = sum(alphabet.index(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2)))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def type_schema(name: str) -> dict[str, Any]:
    """A JSON schema for a certificate's subject; holders appear only as pseudonyms. Each property's `title` is
    the label a rendered certificate shows for it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": name,
        "type": "object",
        "required": ["id", "certificateNumber", "issuedOn"],
        "properties": {
            "id": {"type": "string", "title": "持证人标识（假名）"},
            "holderName": {"type": "string", "title": "持证人姓名"},
            "certificateNumber": {"type": "string", "title": "证照编号"},
            "issuedOn": {"type": "string", "format": "date", "title": "发证日期"},
            "validUntil": {"type": "string", "format": "date", "title": "有效期至"},
        },
        "additionalProperties": True,
    }


def demo_spec(size: str = "default", *, seed: int = 20261124) -> dict[str, Any]:
    """A bootstrap spec (as `ledger_node.spec.parse_spec` reads it) of the given size."""
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}; choose one of {', '.join(SIZES)}")
    counts = SIZES[size]
    rng = random.Random(seed)
    chosen = DEPARTMENTS[: counts["departments"]]
    codes = {abbr: department_code(i + 1) for i, (abbr, *_rest) in enumerate(chosen)}
    departments = [
        {"code": codes[abbr], "name": name, "roles": list(roles), "account": i + 1}
        for i, (abbr, name, roles, _) in enumerate(chosen)
    ]
    governors = [codes[abbr] for abbr, _, roles, _ in chosen if "governor" in roles]
    relying = [codes[abbr] for abbr, _, roles, _ in chosen if "relying_party" in roles]
    types = _types(chosen, codes, counts["types"], relying, rng)
    showcase = [{**item, "owner": codes[item["owner"]], "handlers": [codes[h] for h in item["handlers"]]}
                for item in SHOWCASE_ITEMS]
    items = [*showcase, *_service_items(types, relying, counts["service_items"] - len(showcase), rng)]
    _let_handlers_rely(types, items)
    operators = [codes[abbr] for abbr, _, roles, _ in chosen if "log_operator" in roles]
    return {"quorum": 2, "governors": governors, "departments": departments,
            "certificate_types": types, "service_items": items,
            "access_logs": [{"code": DEFAULT_ACCESS_LOG_ID, "operator": operators[0]}] if operators else []}


def _types(chosen: tuple[Any, ...], codes: dict[str, str], total: int, relying: list[str],
           rng: random.Random) -> list[dict[str, Any]]:
    issuers = [(abbr, certificates) for abbr, _, roles, certificates in chosen if certificates]
    types: list[dict[str, Any]] = []
    round_ = 0
    while len(types) < total:
        for abbr, certificates in issuers:
            base = certificates[round_ % len(certificates)]
            variant = VARIANTS[(round_ // len(certificates)) % len(VARIANTS)]
            serial = sum(1 for t in types if t["owner"] == codes[abbr]) + 1
            name = base + variant
            types.append({
                "code": f"{REGION}-{abbr}-{serial:03d}",
                "name": name,
                "owner": codes[abbr],
                "issuers": [codes[abbr]],
                "relying": sorted(rng.sample(relying, k=min(2, len(relying)))),
                "schema": type_schema(name),
            })
            if len(types) == total:
                break
        round_ += 1
    return types


def _let_handlers_rely(types: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    """Makes each item's handling departments relying departments of the types it needs, so that
    every demo item can actually be served."""
    by_code = {t["code"]: t for t in types}
    for item in items:
        for required in item["requires"]:
            relying = by_code[required]["relying"]
            relying.extend(h for h in (item["owner"], *item.get("handlers", ())) if h not in relying)
            relying.sort()


def _service_items(types: list[dict[str, Any]], relying: list[str], total: int,
                   rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for n in range(total):
        required = rng.sample(types, k=rng.randint(1, 3))
        action = ACTIONS[n % len(ACTIONS)]
        items.append({
            "code": f"{REGION}-SX-{n + 1:05d}",
            "name": f"{required[0]['name']}{action}",
            "owner": rng.choice(relying),
            "requires": [t["code"] for t in required],
        })
    return items
